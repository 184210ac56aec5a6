"""report.html without a browser: the pure renderer, the shipped Vega bundle, and `--open`.

The page in a real browser is tested in test_browser.py.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dvc_cml.cli import main
from dvc_cml.model import PlotKind, RenderedPlot
from dvc_cml.render import html
from tests.conftest import Project, build_project, clean_env

SCRIPT = "/* the bundle */ window.vegaEmbed = function () {};"
SPEC = {"mark": "point", "data": {"values": [{"x": 1, "name": "</script><b>&"}]}}
PNG = b"\x89PNG\r\n\x1a\nfake"


class Page(HTMLParser):
    """The parts of a page the tests look at."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.headings: list[str] = []
        self.cells: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.script_text: list[str] = []
        self.images: list[str] = []
        self.charts: list[str] = []
        self._text: list[str] | None = None
        self._in_script = False
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in {"h2", "h3", "h4", "h5", "td", "th"}:
            self._text = []
        if tag == "script":
            self.scripts.append(values)
            self._in_script = True
            self.script_text.append("")
        if tag == "img":
            self.images.append(values.get("src") or "")
        if "data-vega-spec" in values:
            self.charts.append(values["data-vega-spec"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"h2", "h3", "h4", "h5"} and self._text is not None:
            self.headings.append("".join(self._text).strip())
            self._text = None
        if tag in {"td", "th"} and self._text is not None:
            self.cells.append("".join(self._text).strip())
            self._text = None
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)
        if self._in_script:
            self.script_text[-1] += data


def test_charts_replace_their_png_and_images_are_embedded() -> None:
    markdown = "\n".join(
        [
            "## DVC report: **main** (`1111111`) → **workspace**",
            "",
            "### Plots",
            "",
            "#### Loss",
            "",
            "![Loss](plots/loss.png)",
            "",
            "<sub>[Vega-Lite spec](plots/loss.vl.json)</sub>",
            "",
            "| main | workspace |",
            "|:---|:---|",
            "| ![main](plots/sample.base.png) | ![workspace](plots/sample.head.png) |",
            "",
            "![elsewhere](https://example.invalid/x.png)",
            "",
        ]
    )
    plots = [
        RenderedPlot("loss", "Loss", PlotKind.LINE, True, "plots/loss.png", "plots/loss.vl.json"),
        RenderedPlot(
            "sample.png",
            "sample.png",
            PlotKind.IMAGE,
            True,
            images=(("base", "plots/sample.base.png"), ("head", "plots/sample.head.png")),
        ),
    ]
    files = {
        "plots/loss.png": PNG,
        "plots/loss.vl.json": json.dumps(SPEC, indent=1).encode(),
        "plots/sample.base.png": PNG,
        "plots/sample.head.png": PNG + b"2",
    }
    text = html.render(markdown, plots, files, SCRIPT)
    page = Page(text)

    assert text.startswith("<!DOCTYPE html>\n")
    assert "<title>DVC report: main (1111111) → workspace</title>" in text
    assert page.headings == ["DVC report: main (1111111) → workspace", "Plots", "Loss"]
    # The chart sits where the PNG was; its spec is compact JSON that cannot close the script.
    assert page.charts == ["spec-1"]
    assert "plots/loss.png" not in text
    assert "plots/loss.vl.json" not in text  # the page travels alone: the menu shows the spec
    spec_script = page.script_text[page.scripts.index({"type": "application/json", "id": "spec-1"})]
    assert "</" not in spec_script
    assert json.loads(spec_script) == SPEC
    assert '"name": "\\u003c/script\\u003e\\u003cb\\u003e\\u0026"' in spec_script
    # Image plots are data URIs, so the page needs no file beside it; others stay links.
    png = base64.b64encode(PNG).decode()
    assert page.images == [
        f"data:image/png;base64,{png}",
        f"data:image/png;base64,{base64.b64encode(PNG + b'2').decode()}",
        "https://example.invalid/x.png",
    ]
    # One bundle for the page, then the script that draws every chart; nothing from a CDN.
    plain = [i for i, attrs in enumerate(page.scripts) if not attrs]
    assert [page.script_text[i] for i in plain] == [SCRIPT, html.EMBED_SCRIPT % json.dumps(
        html.EMBED_OPTIONS
    )]  # fmt: skip
    assert not any("src" in attrs for attrs in page.scripts)
    assert "<link" not in text


def test_verdict_marks_are_drawn_not_typed_and_only_in_text() -> None:
    """✅/❌/⚠️ become inline SVG marks (no font needed) in the page's text; an attribute
    (an image's alt text) keeps its characters, and stays one attribute."""
    markdown = (
        "| Metric | Change |\n|:---|---:|\n| acc | +0.1 ✅ |\n| loss | +0.2 ❌ |\n\n"
        "| Gate | Result |\n|:---|:---|\n| g | ⚠️ missing |\n\n"
        "![✅ done](plots/x.png)\n"
    )
    page = html.render(markdown, [], {"plots/x.png": PNG}, SCRIPT)
    body = page.split("<main>")[1].split("</main>")[0]
    assert body.count('<svg class="mark good"') == 1
    assert body.count('<svg class="mark bad"') == 1
    assert body.count('<svg class="mark warning"') == 1
    assert '<td align="right">+0.1 <svg class="mark good" viewBox="0 0 16 16"' in body
    assert 'alt="✅ done">' in body  # inside a tag: untouched
    assert "❌" not in body and "⚠" not in body
    parsed = Page(page)
    assert len(parsed.images) == 1


def test_a_page_without_charts_carries_no_javascript() -> None:
    text = html.render("## DVC report\n\n### Metrics\n\n| a |\n|---|\n| 1 |\n", [], {}, SCRIPT)
    assert "<script" not in text
    assert Page(text).cells == ["a", "1"]


def test_the_bundle_script_cannot_end_early() -> None:
    plots = [RenderedPlot("l", "l", PlotKind.LINE, True, "p.png", "p.vl.json")]
    files = {"p.png": PNG, "p.vl.json": json.dumps(SPEC).encode()}
    text = html.render("![l](p.png)\n", plots, files, "let s = '</script>';")
    assert "let s = '<\\/script>';" in text
    assert text.count("</script>") == len(Page(text).scripts)


# --- the JavaScript shipped for the page ------------------------------------------------


def test_the_shipped_bundle_is_vega_lite_for_altair_s_specs() -> None:
    import altair

    from dvc_cml.render import vegajs

    bundle = vegajs.bundle()
    assert len(bundle) > 500_000
    for name in ("vegaEmbed", "vega", "vegaLite"):
        assert f"window.{name}=" in bundle  # the snippet, as the bundler minified it
    assert "</script" not in bundle.lower()
    versions = vegajs.versions()
    assert set(versions) == {"vega", "vega-lite", "vega-embed", "vl-convert"}
    # The page draws the specs altair writes: the same Vega-Lite major version.
    assert versions["vega-lite"].split(".")[0] == altair.SCHEMA_VERSION.lstrip("v").split(".")[0]
    assert f'"{versions["vega-lite"]}.' in bundle  # Vega-Lite's own version string


def test_rebuilding_the_bundle_gives_the_shipped_bytes(tmp_path: Path) -> None:
    """`python -m dvc_cml.render.vegajs` is reproducible: the shipped file is its output
    for the vl-convert it names (skipped with another vl-convert installed)."""
    import vl_convert

    from dvc_cml.render import vegajs

    shipped = vegajs.versions()
    if getattr(vl_convert, "__version__", None) != shipped["vl-convert"]:
        pytest.skip(f"vl-convert {vl_convert.__version__} is not {shipped['vl-convert']}")
    vegajs.build(tmp_path)
    folder = Path(str(vegajs._folder()))
    assert (tmp_path / vegajs.BUNDLE).read_bytes() == (folder / vegajs.BUNDLE).read_bytes()
    assert (tmp_path / vegajs.VERSIONS).read_text() == (folder / vegajs.VERSIONS).read_text()


# --- report.html beside report.md, and --open ---------------------------------------------


@pytest.fixture(scope="module")
def plots_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    project = build_project("plots", tmp_path_factory.mktemp("html") / "plots")
    project.apply_head()
    return project


def run_cli(project: Project, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """dvc-cml in its own process: webbrowser reads $BROWSER from the real environment."""
    command = [sys.executable, "-m", "dvc_cml", "diff", "main", "-C", str(project.root), *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def environment(**extra: str) -> dict[str, str]:
    """No CI variables (conftest.clean_env) and no $BROWSER of the machine's, plus `extra`."""
    env = {k: v for k, v in clean_env().items() if k != "BROWSER"}
    return {**env, **extra}


@pytest.fixture(scope="module")
def recorder(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A stand-in browser that writes down the URL it was asked to open."""
    folder = tmp_path_factory.mktemp("browser")
    script, record = folder / "browser.sh", folder / "opened.txt"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{record}"\n')
    script.chmod(0o755)
    return script, record


def test_open_shows_report_html_in_the_browser_from_browser_env(
    plots_project: Project, recorder: tuple[Path, Path]
) -> None:
    script, record = recorder
    record.unlink(missing_ok=True)
    done = run_cli(plots_project, environment(BROWSER=str(script)), "--open", "--md")
    assert done.returncode == 0, done.stderr
    page = plots_project.root / "dvc-cml-report" / "report.html"
    assert record.read_text() == page.as_uri() + "\n"
    assert f"dvc-cml: opened {page} in the web browser" in done.stderr
    assert done.stdout.startswith("## DVC report")  # --md output untouched by the message

    # The page holds every section of report.md, and a chart for each chart PNG it shows.
    markdown = (plots_project.root / "dvc-cml-report" / "report.md").read_text()
    parsed = Page(page.read_text())
    headings = [line.lstrip("#").strip() for line in markdown.splitlines() if line[:2] == "##"]
    assert len(parsed.headings) == len(headings) > 4
    assert len(parsed.charts) == markdown.count(".png)") - markdown.count("](plots/images")
    assert len(parsed.charts) == 4
    # Each chart draws exactly its .vl.json: the same (downsampled) data as the PNG.
    embedded = sorted(
        json.dumps(json.loads(text), sort_keys=True)
        for attrs, text in zip(parsed.scripts, parsed.script_text, strict=True)
        if attrs.get("type") == "application/json"
    )
    written = sorted(
        json.dumps(json.loads(path.read_text()), sort_keys=True)
        for path in (plots_project.root / "dvc-cml-report" / "plots").glob("*.vl.json")
    )
    assert embedded == written and len(written) == 4


def test_open_never_runs_a_browser_in_ci(
    plots_project: Project, recorder: tuple[Path, Path]
) -> None:
    script, record = recorder
    record.unlink(missing_ok=True)
    done = run_cli(plots_project, environment(BROWSER=str(script), CI="true"), "--open")
    assert done.returncode == 0, done.stderr
    assert not record.exists()
    page = plots_project.root / "dvc-cml-report" / "report.html"
    assert f"dvc-cml: not opening a browser in CI ($CI is set); the report is at {page}" in (
        done.stderr
    )


def test_open_without_a_browser_prints_the_path(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    code = (
        "import sys; from pathlib import Path; from dvc_cml.publish.local import open_in_browser; "
        "print(open_in_browser(Path(sys.argv[1]), {}))"
    )
    # No $BROWSER, no display, nothing on PATH: webbrowser finds no browser at all.
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", code, str(page)], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"no web browser found; open {page}\n"


def test_check_with_out_writes_the_page_too(plots_project: Project, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = main(
        ["check", "main", "-C", str(plots_project.root), "--fail-on", "x<-1", "--out", str(out)],
        env={},
    )
    assert code == 5  # the plots scenario has no metric x: the gate fails, the files are written
    assert len(Page((out / "report.html").read_text()).charts) == 4
