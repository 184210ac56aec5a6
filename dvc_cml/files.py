"""Writing files where a merge request's branch may have committed symlinks.

The branch decides what is in the checkout, the report directory included: a committed
`dvc-cml-report/plots -> /home/runner/...` must not make dvc-cml write, replace or delete
anything there.  So below the repository's root every directory is opened with O_NOFOLLOW
and every file is reached through its directory's descriptor (`*at` calls): a symlink on
the way is an error, never followed.  Files are written under a temporary name and renamed
into place, which replaces a symlink (or a half-written file) instead of writing through it.
The directories above the repository (a runner's work folder, `/tmp`) are the user's and are
followed as usual.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class SymlinkError(OSError):
    """A symlink (or a file) where dvc-cml needs a directory, or a symlink it would write."""


def trusted_root(path: Path) -> Path:
    """The folder above which symlinks are the user's: the git work tree `path` is in (a
    branch can commit anything below it, but never a `.git`), else `path`'s parent.

    Looked for from the top down, on the path as given (never resolved): below the first
    work tree, a symlink ends the search, so a committed `sub -> /elsewhere` whose target
    holds a `.git` cannot make `sub/...` a work tree of its own, trusted as far as it."""
    absolute = Path(os.path.normpath(path.absolute()))
    found: Path | None = None
    for folder in reversed(absolute.parents):
        if found is not None and folder.is_symlink():
            break
        if os.path.lexists(folder / ".git"):
            found = folder
    return found or absolute.parent


def _open_below(fd: int, name: str, create: bool, shown: str) -> int:
    """The folder `name` in the folder `fd`, made if `create`; SymlinkError (naming it as
    `shown`) if it is a symlink or a file."""
    if create:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, dir_fd=fd)
    try:
        return os.open(name, _DIR | _NOFOLLOW, dir_fd=fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise SymlinkError(exc.errno, "a symlink or a file, not a directory", shown) from None
        raise


@contextlib.contextmanager
def directory(path: Path, create: bool = True) -> Iterator[int]:
    """A descriptor of the directory `path`, made if `create`; every part of it below
    `trusted_root(path)` is a real directory, not a symlink (else SymlinkError)."""
    absolute = Path(os.path.normpath(path.absolute()))
    root = trusted_root(absolute)
    if create:
        root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root, _DIR)
    try:
        for part in absolute.relative_to(root).parts:
            root = root / part
            inner = _open_below(fd, part, create, str(root))
            os.close(fd)
            fd = inner
        yield fd
    finally:
        os.close(fd)


def _parent(root: int, rel: PurePosixPath, create: bool) -> int:
    """A descriptor of `rel`'s folder below the directory `root`; none of it followed."""
    fd = os.dup(root)
    try:
        for depth, part in enumerate(rel.parent.parts, start=1):
            inner = _open_below(fd, part, create, "/".join(rel.parts[:depth]))
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def entry(root: int, rel: PurePosixPath) -> str | None:
    """What is at `rel` below the directory `root`, looked at without following anything:
    "file", "dir", "symlink", "other", or None.  SymlinkError if a folder on the way is a
    symlink or a file."""
    try:
        fd = _parent(root, rel, create=False)
    except FileNotFoundError:
        return None
    try:
        mode = os.stat(rel.name, dir_fd=fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return None
    finally:
        os.close(fd)
    if stat.S_ISLNK(mode):
        return "symlink"
    return "file" if stat.S_ISREG(mode) else "dir" if stat.S_ISDIR(mode) else "other"


def listing(root: int, rel: PurePosixPath) -> list[str] | None:
    """The names in the folder `rel` below `root`; None if it is missing, or a symlink or a
    file, or not reachable without following one."""
    try:
        parent = _parent(root, rel, create=False)
    except (FileNotFoundError, SymlinkError):
        return None
    try:
        fd = _open_below(parent, rel.name, False, str(rel))
    except (FileNotFoundError, SymlinkError):
        return None
    finally:
        os.close(parent)
    try:
        return os.listdir(fd)  # noqa: PTH208  (a descriptor: pathlib has none)
    finally:
        os.close(fd)


def read(root: int, rel: PurePosixPath, limit: int) -> bytes | None:
    """The first `limit` bytes of the regular file `rel` below `root`; None if it is missing,
    a symlink, or not reachable without following one."""
    try:
        fd = _parent(root, rel, create=False)
    except (FileNotFoundError, SymlinkError):
        return None
    try:
        flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | _NOFOLLOW  # a FIFO must not block
        opened = os.open(rel.name, flags, dir_fd=fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    with os.fdopen(opened, "rb") as stream:
        if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
            return None
        return stream.read(limit)


def write(root: int, rel: PurePosixPath, data: bytes) -> None:
    """Write `data` to `rel` below the directory `root`: under a temporary name, then renamed
    over whatever entry was there (a symlink is replaced, never written through)."""
    fd = _parent(root, rel, create=True)
    temporary = f".{rel.name[:100]}.{secrets.token_hex(4)}.tmp"
    try:
        out = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | _NOFOLLOW,
            0o666,
            dir_fd=fd,
        )
        try:
            with os.fdopen(out, "wb", closefd=False) as stream:
                stream.write(data)
        finally:
            os.close(out)
        os.replace(temporary, rel.name, src_dir_fd=fd, dst_dir_fd=fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary, dir_fd=fd)
        raise
    finally:
        os.close(fd)


def remove(root: int, rel: PurePosixPath) -> None:
    """Remove the file `rel` below `root` (a symlink there: the link itself), and its folders
    below `root` once they are empty.  Nothing on the way is followed; what is not there, or
    not reachable without following a symlink, is left alone."""
    try:
        fd = _parent(root, rel, create=False)
    except (FileNotFoundError, SymlinkError):
        return
    try:
        with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
            os.unlink(rel.name, dir_fd=fd)
    finally:
        os.close(fd)
    for folder in rel.parents:
        if str(folder) == ".":
            break
        try:
            fd = _parent(root, folder, create=False)
        except (FileNotFoundError, SymlinkError):
            return
        try:
            os.rmdir(folder.name, dir_fd=fd)
        except OSError:
            return  # not empty (or not ours to remove)
        finally:
            os.close(fd)


def append(path: Path, text: str) -> None:
    """Append to the file `path` (made if missing), not through a symlink below the
    repository's root (see `directory`), nor at `path` itself."""
    with directory(path.parent) as fd:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | _NOFOLLOW
        try:
            out = os.open(path.name, flags, 0o666, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise SymlinkError(exc.errno, "a symlink", str(path)) from None
            raise
        with os.fdopen(out, "a", encoding="utf-8") as stream:
            stream.write(text)
