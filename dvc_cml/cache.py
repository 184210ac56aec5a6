"""The user's cache directory: the Vega JavaScript that report.html inlines.

vl-convert builds the bundle in about 2 s of CPU on each first call in a process, holding
the GIL; it only changes with vl-convert's version, so it is kept in
`$XDG_CACHE_HOME/dvc-cml` (else `~/.cache/dvc-cml`), as pip and pre-commit keep theirs.
Without a usable cache directory it is built every time: slower, never an error.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

END = "\n/* end of the bundle cached by dvc-cml */\n"


def cache_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME") or ""
    return (Path(base) if base else Path.home() / ".cache") / "dvc-cml"


def bundle_path(directory: Path) -> Path:
    from dvc_cml.render import charts

    return directory / f"vega-bundle-{charts.engine_version()}.js"


def vega_bundle(directory: Path | None) -> str:
    """The bundle from the cache, or built (and cached when `directory` is writable)."""
    from dvc_cml.render import charts

    path = bundle_path(directory) if directory else None
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
            if text.endswith(END):  # a whole file, not one cut short
                return text[: -len(END)]
        except (OSError, UnicodeDecodeError):
            pass
    bundle = charts.javascript_bundle()
    if path is not None:
        _store(path, bundle + END)
    return bundle


def _store(path: Path, text: str) -> None:
    """Write atomically (two jobs may fill the cache at once); a read-only home is fine."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".vega-", suffix=".tmp")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        Path(tmp).replace(path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


@contextmanager
def vega_bundle_soon(directory: Path | None, wanted: bool = True) -> Iterator[Future[str] | None]:
    """Get the bundle in a thread while the caller waits for its charts (None if not `wanted`).

    vl-convert holds the GIL while bundling, but the main thread is mostly waiting on the
    chart process then: a cold cache costs the bundling time less the charts' drawing time.
    """
    if not wanted:
        yield None
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vega-bundle") as pool:
        yield pool.submit(vega_bundle, directory)
