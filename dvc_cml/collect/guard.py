"""Reading what a branch committed: every file DVC opens for the report is checked here first.

On a merge request the branch's author decides every path DVC reads (dvc.yaml's entries and
the files themselves, symlinks included).  So in the one place every reader goes through,
the filesystem DVC reads a revision from (`repo.fs`: metrics, params, plot data, images,
dvc.yaml's `vars`, dvc.lock), a path is resolved, checked to stay inside the repository,
and only then opened:

- in the workspace, a file that resolves outside the git repository (through a symlink, or a
  directory on its path that is one) is refused, except a link into the DVC cache's own
  objects (`cache.type: symlink` with a cache elsewhere);
- at a commit, DVC would read a symlink as its blob, the target's path as text: here a link
  is followed inside the commit's tree, and refused where it leads out of it;
- what one file can cost is bounded before a parser sees it: its size, and for YAML the
  values its aliases stand for (a few hundred bytes can stand for billions) and its depth.

A refused file raises `NotRead`, an `OSError`: DVC's readers keep it as that file's error
and read the rest, and `refused` finds it in their results for the report's "Not read" list.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import functools
import io
import os
import posixpath
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from dvc.repo import Repo

MAX_BYTES = 128 * 1024 * 1024  # one file: DVC holds a parsed JSON file at ~12x its size
MAX_ALIAS_VALUES = 100_000  # values YAML aliases may add to the ones written out
MAX_DEPTH = 100  # nested YAML collections (DVC's parser overflows Python's stack at ~130)
MAX_VALUES = 10_000  # metrics or params kept from one file (each is a row of the report)
OUTSIDE_LINK = "not read: a symlink leading outside the repository"
OUTSIDE_PATH = "not read: a path leading outside the repository"
ALIAS_BOMB = (
    f"not read: its YAML aliases stand for more than {MAX_ALIAS_VALUES:,} values (an alias bomb?)"
)
TOO_DEEP = f"not read: nested more than {MAX_DEPTH} levels deep"
# YAML nodes (keys, values, collections) DVC's parser may build from one file: ruamel.yaml,
# pure Python, takes ~6 s and ~200 MiB for as many; 128 MiB of YAML would take most of an
# hour.  No text shorter than _SMALL_YAML bytes holds as many (two bytes a node at least).
MAX_YAML_NODES = 100_000
_SMALL_YAML = 2 * MAX_YAML_NODES
TOO_MANY_NODES = f"not read: its YAML holds more than {MAX_YAML_NODES:,} keys and values"
LOOP = "not read: too many levels of symlinks"
RACED = "not read: it changed while it was checked (a symlink swapped in?)"
CACHE_LINK = "not read: its object in the DVC cache is a symlink (DVC makes none)"
_MAX_HOPS = 40  # symlinks followed for one path, as Linux's ELOOP
# What DVC parses as something other than YAML (its loaders default to YAML).
_NOT_YAML = {".json", ".toml", ".py", ".csv", ".tsv", ".png", ".jpg", ".jpeg", ".gif", ".svg"}
# How DVC's local cache names an object (files/md5/ab/cdef...): links into it are DVC's own.
_CACHE_OBJECT = re.compile(r"[0-9a-f]{2}/[0-9a-f]{30,}(\.dir)?")
# Cheap signs that a YAML text may nest deep: many brackets, or a line indented that far.
_DEEP_INDENT = re.compile(rb"^[ \t-]{%d}" % MAX_DEPTH, re.MULTILINE)


class NotRead(OSError):
    """A file dvc-cml refused to open: `name` from the project root (as DVC names files),
    `reason` the report's one line about it."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(errno.EACCES, reason, name)
        self.name = name
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.name}: {self.reason}"


def refused(error: BaseException | None) -> NotRead | None:
    """The `NotRead` behind an error DVC kept (it wraps some of them), if any."""
    for _ in range(10):
        if error is None or isinstance(error, NotRead):
            return error
        error = error.__cause__ or error.__context__
    return None


def too_large(size: int) -> str:
    return f"not read: {size:,} bytes, more than dvc-cml reads from one file ({MAX_BYTES:,})"


def bounded(data: Any) -> tuple[Any, str | None]:
    """A metrics or params file's data as the report may show it, and what was cut.

    At most MAX_VALUES values are kept (counted as the tables count rows: nested dicts are
    walked, a list is one value), in file order: a million rows cost gigabytes to render and
    say nothing to a reviewer.  Data nested deeper than MAX_DEPTH is not kept at all.
    """
    if not isinstance(data, dict):
        return data, None
    total, depth = _measure(data)
    if depth > MAX_DEPTH:
        return None, TOO_DEEP
    if total <= MAX_VALUES:
        return data, None
    kept = _first(data, [MAX_VALUES])
    return kept, f"partly read: {total:,} values, only the first {MAX_VALUES:,} kept"


def _measure(data: dict[Any, Any]) -> tuple[int, int]:
    """(values, depth) of nested dicts, without recursion (the data may be deep)."""
    total = depth = 0
    stack = [iter(data.values())]
    while stack:
        for value in stack[-1]:
            if isinstance(value, dict) and value:
                stack.append(iter(value.values()))
                depth = max(depth, len(stack))
                if depth > MAX_DEPTH:
                    return total, depth
                break
            total += 1
        else:
            stack.pop()
    return total, depth


def _first(data: dict[Any, Any], budget: list[int]) -> dict[Any, Any]:
    kept: dict[Any, Any] = {}
    for key, value in data.items():
        if budget[0] <= 0:
            break
        if isinstance(value, dict) and value:
            kept[key] = _first(value, budget)
        else:
            kept[key] = value
            budget[0] -= 1
    return kept


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


class _Workspace:
    """Files on disk: the operating system follows links, so where they lead is checked."""

    def __init__(self, root: str, cache: Callable[[], str | None]) -> None:
        self.root = str(Path(root).resolve())
        self.given_root = os.path.normpath(Path(root).absolute())
        self.cache = cache

    def resolve(self, path: str) -> str:
        absolute = os.path.normpath(Path(path).absolute())
        try:
            real = str(Path(absolute).resolve())
        except RuntimeError:  # pathlib's word for ELOOP
            raise NotRead(path, LOOP) from None
        if _inside(real, self.root) or self._cache_object(real):
            return real  # opened as checked: a link swapped in meanwhile is not followed
        written_inside = _inside(absolute, self.given_root) or _inside(absolute, self.root)
        raise NotRead(path, OUTSIDE_LINK if written_inside else OUTSIDE_PATH)

    def open_real(self, real: str) -> BinaryIO:
        """`real` (a path `resolve` checked) opened, and checked again as opened: a link
        swapped in after the check is not followed (see `_open_where`)."""
        return _open_where(
            real, lambda opened: _inside(opened, self.root) or self._cache_object(opened)
        )

    def _cache_object(self, real: str) -> bool:
        """A link into the DVC cache's objects: `cache.type: symlink` with the cache
        elsewhere (a shared cache).  Only an object's own name counts, so a cache
        directory set by the branch opens nothing else."""
        cache = self.cache()
        if not cache or not _inside(real, cache):
            return False
        return bool(_CACHE_OBJECT.fullmatch(Path(real).relative_to(cache).as_posix()))

    def size(self, path: str) -> int:
        return Path(path).stat().st_size


class _Commit:
    """Files in a commit's tree (`/` is the git root).  A symlink is a blob holding its
    target's path; it is followed here by hand, and never out of the tree."""

    def __init__(self, fs: Any) -> None:
        self.fs = fs
        self.info = fs.info  # the methods as they were, before `guarded` wraps them
        self.open = fs.open

    def resolve(self, path: str) -> str:
        todo = [p for p in posixpath.join(self.fs.getcwd(), path).split("/") if p]
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == "..":
                if not done:
                    raise NotRead(path, OUTSIDE_LINK if hops else OUTSIDE_PATH)
                done.pop()
                continue
            if part == ".":
                continue
            here = "/" + "/".join([*done, part])
            try:
                mode = self.info(here).get("mode", 0)
            except (FileNotFoundError, NotADirectoryError):
                return "/" + "/".join([*done, part, *todo])  # missing: DVC says so
            if not stat.S_ISLNK(mode):
                done.append(part)
                continue
            hops += 1
            if hops > _MAX_HOPS:
                raise NotRead(path, LOOP)
            with self.open(here, mode="rb") as fd:
                target = fd.read().decode("utf-8", "surrogateescape")
            if target.startswith("/"):
                raise NotRead(path, OUTSIDE_LINK)
            todo = [p for p in target.split("/") if p] + todo
        return "/" + "/".join(done)

    def size(self, path: str) -> int:
        info = self.info(path)
        return int(info.get("size") or 0) if info.get("type") == "file" else 0


def _open_where(real: str, allowed: Callable[[str], bool]) -> BinaryIO:
    """`real` opened for reading, where the file actually opened is `allowed` (its path as
    the kernel has it for the open descriptor).  Checking a path and then opening it leaves
    a moment when a directory on it can be swapped for a link; the descriptor cannot be.
    A link at `real` itself is not followed (O_NOFOLLOW: `real` had none when checked)."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(real, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRead(real, RACED) from None
        raise  # missing: DVC's own open says so
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a directory: DVC's own open says so
            raise IsADirectoryError(errno.EISDIR, "not a regular file", real)
        try:
            opened = str(Path(f"/proc/self/fd/{fd}").readlink())
        except OSError:  # no /proc (not Linux): the path as checked
            opened = real
        if not allowed(opened):
            raise NotRead(real, RACED)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _as_opened(file: BinaryIO, mode: str, kwargs: dict[str, Any]) -> Any:
    """A binary file as `open(path, mode, **kwargs)` would have given it."""
    if "b" in mode:
        return file
    encoding = kwargs.get("encoding") or "utf-8"
    return io.TextIOWrapper(
        file, encoding=encoding, errors=kwargs.get("errors"), newline=kwargs.get("newline")
    )


def escapes(folder: str, root: str) -> bool:
    """Whether `folder`, written inside the repository at `root`, leads outside it (a link
    the branch committed on its way: `.dvc/cache`, or where `cache.dir` points).  A folder
    set outside the repository (a runner's shared cache) is where the setting says."""
    written = os.path.normpath(Path(folder).absolute())
    given = os.path.normpath(Path(root).absolute())
    real_root = os.path.realpath(root)
    if not (_inside(written, given) or _inside(written, real_root)):
        return False
    return not _inside(os.path.realpath(folder), real_root)


def trusted_cache(repo: Repo) -> str | None:
    """The real path of the local DVC cache whose objects a workspace link may lead to,
    or None: none, or one the branch leads outside through a link of its own."""
    path = getattr(getattr(repo.cache, "local", None), "path", None)
    if not path or escapes(path, repo.scm.root_dir):
        return None
    return str(Path(path).resolve())


class _Objects:
    """Objects of DVC's local cache or of a local-directory remote (`files/md5/ab/cdef…`).

    DVC reads a tracked file's object when the workspace lacks the file and at every
    commit.  DVC never writes an object as a symlink, but a branch can commit one into the
    cache (`git add -f .dvc/cache/...`) leading to any file: an object that is a link, or
    whose real path leaves the store's real folder, is refused."""

    def __init__(self, folder: str, root: str) -> None:
        self.folder = os.path.realpath(folder)
        self.root = os.path.realpath(root)
        self.escapes = escapes(folder, root)

    def resolve(self, path: str) -> str:
        try:
            link = stat.S_ISLNK(os.lstat(path).st_mode)
        except OSError:
            return path  # missing: DVC says so
        if self.escapes:
            raise NotRead(path, OUTSIDE_LINK)
        try:
            real = str(Path(path).resolve())
        except RuntimeError:  # pathlib's word for ELOOP
            raise NotRead(path, LOOP) from None
        if link or not _inside(real, self.folder):
            raise NotRead(path, CACHE_LINK if _inside(real, self.root) else OUTSIDE_LINK)
        return real

    def open_real(self, real: str) -> BinaryIO:
        return _open_where(real, lambda opened: _inside(opened, self.folder))

    def size(self, path: str) -> int:
        return Path(path).stat().st_size


def yaml_cost(data: bytes) -> str | None:
    """Why a YAML text would cost too much to load (None when it would not).

    Counted on libyaml's event stream, which never expands an alias: a collection's size is
    known when it ends, and an alias weighs what its anchor did.  It stops at the first
    bound passed, so the count costs no more than the bound.
    """
    aliases = b"*" in data and b"&" in data
    deep = data.count(b"[") + data.count(b"{") > MAX_DEPTH or _DEEP_INDENT.search(data)
    if not (aliases or deep or len(data) > _SMALL_YAML):
        return None
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    sizes: dict[str, int] = {}  # anchor: values it stands for
    stack: list[list[Any]] = [[None, 0]]  # [anchor, values so far] per open collection
    written = expanded = 0
    try:
        for event in yaml.parse(data, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                size = sizes.get(str(event.anchor), 1)
                stack[-1][1] += size
                expanded += size
            elif isinstance(event, yaml.ScalarEvent):
                written += 1
                expanded += 1
                stack[-1][1] += 1
                if event.anchor:
                    sizes[event.anchor] = 1
            elif isinstance(event, yaml.CollectionStartEvent):
                written += 1
                expanded += 1
                stack.append([event.anchor, 1])
                if len(stack) > MAX_DEPTH + 1:
                    return TOO_DEEP
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, size = stack.pop()
                stack[-1][1] += size
                if anchor:
                    sizes[anchor] = size
            if expanded - written > MAX_ALIAS_VALUES:
                return ALIAS_BOMB
            if written > MAX_YAML_NODES:
                return TOO_MANY_NODES
    except yaml.YAMLError:
        return None  # not YAML after all: DVC's own parser says so, in its words
    return None


def _read(open_: Callable[..., Any], path: str) -> bytes:
    with open_(path, mode="rb") as fd:
        return bytes(fd.read())


class _Guard:
    """Checks before a filesystem's `open`: `place` locates the path, `name` says it as the
    report does, and `parsed_as` gives the name DVC parses the file by (its extension says
    which parser), or None for a file no parser of the report reads (a cache object DVC
    opens for itself, such as a directory's listing: located, not bounded)."""

    def __init__(
        self,
        place: _Workspace | _Commit | _Objects,
        name: Callable[[str], str],
        parsed_as: Callable[[str], str | None] | None = None,
    ) -> None:
        self.place = place
        self.name = name
        self.parsed_as = parsed_as or name

    def resolve(self, path: str) -> str:
        try:
            return self.place.resolve(path)
        except NotRead as exc:
            raise NotRead(self.name(path), exc.reason) from None

    def opening(self, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def open_checked(path: Any, mode: str = "r", **kwargs: Any) -> Any:
            real = self.resolve(str(path))
            parsed_as = self.parsed_as(str(path))
            if isinstance(self.place, (_Workspace, _Objects)) and set(mode) <= set("rbt"):
                try:
                    file = self.place.open_real(real)
                except NotRead as exc:
                    raise NotRead(self.name(str(path)), exc.reason) from None
                except OSError:  # missing, or a directory: DVC's own open says so
                    return method(real, mode=mode, **kwargs)
                return self._checked(file, str(path), parsed_as, mode, kwargs)
            if parsed_as is None:
                return method(real, mode=mode, **kwargs)
            try:
                size = self.place.size(real)
                # By the name DVC parses it by: `params.yaml -> p.json` is parsed as YAML.
                yaml = posixpath.splitext(parsed_as)[1].lower() not in _NOT_YAML
                data = _read(method, real) if yaml and size <= MAX_BYTES else None
            except OSError:  # missing, or a directory: DVC's own open says so
                return method(real, mode=mode, **kwargs)
            if size > MAX_BYTES:
                raise NotRead(self.name(str(path)), too_large(size))
            if data is None:
                return method(real, mode=mode, **kwargs)
            if reason := yaml_cost(data):
                raise NotRead(self.name(str(path)), reason)
            # The bytes just checked are the ones parsed (and a blob is read once).
            if "b" in mode:
                return io.BytesIO(data)
            return io.TextIOWrapper(io.BytesIO(data), encoding=kwargs.get("encoding") or "utf-8")

        return open_checked

    def _checked(
        self, file: BinaryIO, path: str, parsed_as: str | None, mode: str, kwargs: dict[str, Any]
    ) -> Any:
        """An opened file, bounded as `opening` bounds it, read from that one descriptor."""
        with contextlib.ExitStack() as closing:
            closing.callback(file.close)
            size = os.fstat(file.fileno()).st_size
            if parsed_as is not None and size > MAX_BYTES:
                raise NotRead(self.name(path), too_large(size))
            if parsed_as is None or posixpath.splitext(parsed_as)[1].lower() in _NOT_YAML:
                closing.pop_all()
                return _as_opened(file, mode, kwargs)
            data = file.read()
        if reason := yaml_cost(data):
            raise NotRead(self.name(path), reason)
        return _as_opened(io.BytesIO(data), mode, kwargs)

    def listing(self, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def list_checked(path: Any, *args: Any, **kwargs: Any) -> Any:
            return method(self.resolve(str(path)), *args, **kwargs)

        return list_checked


# The methods of DVC's filesystems (dvc_objects' FileSystem) that read contents or list a
# directory; the rest only look at one path's metadata.  DVC's readers all `open` (located,
# bounded, YAML checked); the others are located too, should a reader ever use them.
_OPENS = ("open",)
_LISTS = ("ls", "find", "walk", "cat_file", "read_bytes", "read_text", "get_file")


def outside(path: str, root: str, cache: str | None = None) -> str | None:
    """Why a workspace file must not be opened (it leads outside `root`, and is no object
    of the DVC `cache` directory), or None."""
    try:
        _Workspace(root, lambda: cache).resolve(path)
    except NotRead as exc:
        return exc.reason
    return None


def committed_into_stores(repo: Repo) -> list[str]:
    """Symlinks the branch committed into the local DVC cache, or into a local-directory
    remote, where those folders lie in the repository (from the repository's top).

    A pull copies an object it finds there to the workspace without reading it through
    any filesystem the guard wraps (a reflink or a copy of whatever the link leads to).
    """
    from dvc_cml import git

    top = os.path.realpath(repo.scm.root_dir)
    folders = [repo.cache.local_cache_dir]
    for remote in repo.config.get("remote", {}):
        with contextlib.suppress(Exception):  # a remote DVC cannot build: the pull says so
            found = repo.cloud.get_remote(remote)
            if getattr(found.fs, "protocol", None) == "local":
                folders.append(found.path)
    # A folder that leads outside through a link: the pull would write through it.
    leading = {_written(f, repo.scm.root_dir) for f in folders if escapes(f, repo.scm.root_dir)}
    inside = sorted(
        {os.path.relpath(real, top) for f in folders if _inside(real := os.path.realpath(f), top)}
    )
    return sorted(leading) + (git.tracked_symlinks(Path(top), inside) or [])


def _written(folder: str, root: str) -> str:
    """`folder` from the repository's top, as written (its links not followed)."""
    written = os.path.normpath(Path(folder).absolute())
    given = os.path.normpath(Path(root).absolute())
    return os.path.relpath(written, given if _inside(written, given) else os.path.realpath(root))


# The file DVC's reader asked its filesystem for (`repo.dvcfs.open`) while DVC opens that
# file's object in the cache or a remote, under the object's own name.
_PARSED_AS: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "dvc_cml_parsed_as", default=None
)


def _naming(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def open_named(path: Any, *args: Any, **kwargs: Any) -> Any:
        token = _PARSED_AS.set(str(path))
        try:
            return method(path, *args, **kwargs)
        finally:
            _PARSED_AS.reset(token)

    return open_named


def _stores(repo: Repo) -> Iterator[tuple[Any, str]]:
    """(filesystem, folder) of the local cache's object stores."""
    for name in ("repo", "legacy"):
        odb = getattr(repo.cache, name, None)
        if odb is not None and getattr(odb.fs, "protocol", None) == "local":
            yield odb.fs, repo.cache.local_cache_dir


@contextlib.contextmanager
def guarded(repo: Repo) -> Iterator[None]:
    """Every read of the revision `repo` is switched to goes through the checks above.

    `repo.switch` made a filesystem for this revision alone, dropped when it switches back:
    its reading methods are wrapped on that instance only.  So are the filesystems of the
    local cache and of local-directory remotes, where DVC reads a tracked file's object
    (at a commit, or when the workspace lacks it), with the name DVC reads it by.
    """
    from dvc.fs import GitFileSystem

    fs = repo.fs
    root = repo.root_dir
    top = repo.scm.root_dir
    place: _Workspace | _Commit
    if isinstance(fs, GitFileSystem):
        place = _Commit(fs)
    else:
        place = _Workspace(top, lambda: trusted_cache(repo))

    def name(path: str) -> str:
        """As DVC names files: from the project root (a path outside: as written)."""
        return fs.relpath(path, root) if fs.isabs(path) and fs.isin(path, root) else path

    def object_name(path: str) -> str:
        """A DVC-tracked file by its name, else its object from the repository's top."""
        named = _PARSED_AS.get()
        return named if named is not None else os.path.relpath(path, top)

    wrapped: list[tuple[Any, str]] = []

    def wrap(target: Any, method: str, wrapper: Callable[..., Any]) -> None:
        setattr(target, method, wrapper(getattr(target, method)))
        wrapped.append((target, method))

    guard = _Guard(place, name)
    for method in _OPENS:
        wrap(fs, method, guard.opening)
    for method in _LISTS:
        wrap(fs, method, guard.listing)
    wrap(repo.dvcfs, "open", _naming)

    def objects(store: Any, folder: str) -> None:
        if store is not fs and not any(store is done for done, _ in wrapped):
            checks = _Guard(_Objects(folder, top), object_name, lambda _: _PARSED_AS.get())
            wrap(store, "open", checks.opening)

    for store, folder in _stores(repo):
        objects(store, folder)

    def remote_checked(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def get_remote(*args: Any, **kwargs: Any) -> Any:
            remote = method(*args, **kwargs)
            if getattr(remote.fs, "protocol", None) == "local":  # a folder: links work
                objects(remote.fs, remote.path)
            return remote

        return get_remote

    wrap(repo.cloud, "get_remote", remote_checked)
    try:
        yield
    finally:
        for target, method in reversed(wrapped):
            delattr(target, method)  # the class's own again
