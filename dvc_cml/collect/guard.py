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
import errno
import functools
import io
import os
import posixpath
import re
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
LOOP = "not read: too many levels of symlinks"
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
            return path
        written_inside = _inside(absolute, self.given_root) or _inside(absolute, self.root)
        raise NotRead(path, OUTSIDE_LINK if written_inside else OUTSIDE_PATH)

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


def yaml_cost(data: bytes) -> str | None:
    """Why a YAML text would cost too much to load (None when it would not).

    Counted on libyaml's event stream, which never expands an alias: a collection's size is
    known when it ends, and an alias weighs what its anchor did.
    """
    aliases = b"*" in data and b"&" in data
    deep = data.count(b"[") + data.count(b"{") > MAX_DEPTH or _DEEP_INDENT.search(data)
    if not (aliases or deep):
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
    except yaml.YAMLError:
        return None  # not YAML after all: DVC's own parser says so, in its words
    return None


def _read(open_: Callable[..., Any], path: str) -> bytes:
    with open_(path, mode="rb") as fd:
        return bytes(fd.read())


class _Guard:
    def __init__(self, place: _Workspace | _Commit, name: Callable[[str], str]) -> None:
        self.place = place
        self.name = name

    def resolve(self, path: str) -> str:
        try:
            return self.place.resolve(path)
        except NotRead as exc:
            raise NotRead(self.name(path), exc.reason) from None

    def opening(self, method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def open_checked(path: Any, mode: str = "r", **kwargs: Any) -> Any:
            real = self.resolve(str(path))
            try:
                size = self.place.size(real)
                yaml = posixpath.splitext(real)[1].lower() not in _NOT_YAML
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


@contextlib.contextmanager
def guarded(repo: Repo) -> Iterator[None]:
    """Every read of the revision `repo` is switched to goes through the checks above.

    `repo.switch` made a filesystem for this revision alone, dropped when it switches back:
    its reading methods are wrapped on that instance only.
    """
    from dvc.fs import GitFileSystem

    fs = repo.fs
    root = repo.root_dir
    place: _Workspace | _Commit
    if isinstance(fs, GitFileSystem):
        place = _Commit(fs)
    else:

        def cache() -> str | None:
            path = getattr(getattr(repo.cache, "local", None), "path", None)
            return str(Path(path).resolve()) if path else None

        place = _Workspace(repo.scm.root_dir, cache)

    def name(path: str) -> str:
        """As DVC names files: from the project root (a path outside: as written)."""
        return fs.relpath(path, root) if fs.isabs(path) and fs.isin(path, root) else path

    guard = _Guard(place, name)
    for method in _OPENS:
        setattr(fs, method, guard.opening(getattr(fs, method)))
    for method in _LISTS:
        setattr(fs, method, guard.listing(getattr(fs, method)))
    try:
        yield
    finally:
        for method in (*_OPENS, *_LISTS):
            delattr(fs, method)  # the class's own again
