"""The Vega, Vega-Lite and vega-embed JavaScript that report.html inlines, shipped with
dvc-cml as bokeh and plotly ship theirs.

vl-convert builds this bundle in 2-4 s of CPU, on every first call in a process: far more
than a whole everyday report, and every CI job is a first call.  So it is built once, by
the maintainers, from vl-convert (`python -m dvc_cml.render.vegajs`), and read here from
`vega/bundle.js.gz` in a few milliseconds.  The page carries its own JavaScript, so it does
not depend on the vl-convert that is installed; `vega/VERSIONS` says what is inside.
"""

from __future__ import annotations

import functools
import gzip
from importlib import resources
from pathlib import Path

BUNDLE = "bundle.js.gz"
VERSIONS = "VERSIONS"


def _folder() -> Path:
    return Path(str(resources.files("dvc_cml.render") / "vega"))


@functools.cache
def bundle() -> str:
    """The bundle: sets `window.vegaEmbed`, `window.vega` and `window.vegaLite`."""
    return gzip.decompress((_folder() / BUNDLE).read_bytes()).decode("utf-8")


def versions() -> dict[str, str]:
    """{"vega": "6.2.0", "vega-lite": "6.4", "vega-embed": "7.0.2", "vl-convert": ...}."""
    lines = (_folder() / VERSIONS).read_text(encoding="utf-8").splitlines()
    return dict(line.split(" ", 1) for line in lines if line and not line.startswith("#"))


def build(folder: Path) -> None:
    """Rebuild the shipped bundle from the installed vl-convert (a maintainer's step, when
    vl-convert or altair moves to a new Vega-Lite)."""
    import vl_convert

    # The default snippet is the one that sets the three globals the page uses.
    script: str = vl_convert.javascript_bundle()  # type: ignore[call-arg]
    # mtime=0: the same bundle gives the same bytes, so git sees no change.
    (folder / BUNDLE).write_bytes(gzip.compress(script.encode("utf-8"), 9, mtime=0))
    vega_lite = vl_convert.get_vegalite_versions()[-1]
    (folder / VERSIONS).write_text(
        "# What vega/bundle.js.gz holds; written by `python -m dvc_cml.render.vegajs`.\n"
        f"vega {vl_convert.get_vega_version()}\n"
        f"vega-lite {vega_lite}\n"
        f"vega-embed {vl_convert.get_vega_embed_version()}\n"
        f"vl-convert {getattr(vl_convert, '__version__', 'unknown')}\n",
        encoding="utf-8",
    )


if __name__ == "__main__":  # pragma: no cover - a maintainer's command
    build(_folder())
    print(f"wrote {_folder() / BUNDLE}: {versions()}")
