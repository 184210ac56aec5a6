"""report.html in a real browser: headless Chromium, driven by playwright, with no network.

Debian's `chromium` package (/usr/bin/chromium, installed by .ci/run) is the browser; the
browser builds that `playwright install` downloads are never used.  Where there is no
Chromium, these tests are skipped and say why.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dvc_cml.cli import main
from tests.conftest import build_project

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request, Route

CHROMIUM = os.environ.get("DVC_CML_CHROMIUM", "/usr/bin/chromium")
# Needed to run as root in a container, and to keep Chromium from phoning home.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
# A folder to copy the screenshot to (the README's is made so), besides the test's temp dir.
SCREENSHOTS = os.environ.get("DVC_CML_SCREENSHOTS")


def _why_no_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        return (
            f"no Chromium at {CHROMIUM} (apt-get install chromium, as .ci/run does"
            + (f"; or DVC_CML_CHROMIUM={found}" if found else "")
            + "): report.html was NOT checked in a browser"
        )
    return None


pytestmark = pytest.mark.skipif(bool(_why_no_browser()), reason=_why_no_browser() or "")


@dataclass
class Loaded:
    page: Page
    path: Path  # report.html
    report_md: str
    console: list[tuple[str, str]] = field(default_factory=list)  # (type, text)
    errors: list[str] = field(default_factory=list)  # uncaught exceptions
    requests: list[str] = field(default_factory=list)  # every URL the page asked for


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `plots` scenario's report: line, scatter, confusion and image plots, NaN dropped."""
    project = build_project("plots", tmp_path_factory.mktemp("browser") / "plots")
    project.apply_head()
    out = project.root / "dvc-cml-report"
    assert main(["diff", "main", "-C", str(project.root), "--md"], env={}) == 0
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def loaded(browser: Browser, report_dir: Path) -> Iterator[Loaded]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    page = context.new_page()
    path = report_dir / "report.html"
    result = Loaded(page, path, (report_dir / "report.md").read_text())

    def route(route: Route, request: Request) -> None:
        # Only the file itself may load: anything else would fail for a reader offline.
        if request.url == path.as_uri():
            route.continue_()
        else:
            route.abort()

    page.on("request", lambda request: result.requests.append(request.url))
    page.on("console", lambda message: result.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: result.errors.append(str(error)))
    context.route("**/*", route)
    page.goto(path.as_uri())
    # Every chart holder gets vega's SVG (or the error text, which the tests then report).
    page.wait_for_function(
        """() => [...document.querySelectorAll(".vega-chart")].every(
             (el) => el.querySelector("svg.marks") || el.classList.contains("failed"))""",
        timeout=30_000,
    )
    yield result
    context.close()


def chart_count(report_md: str) -> int:
    """Charts in report.md: PNGs with a Vega-Lite spec beside them."""
    return len(re.findall(r"\]\((plots/[^)]+)\.png\)\n\n<sub>\[Vega-Lite spec\]", report_md))


def test_page_loads_offline_without_errors(loaded: Loaded) -> None:
    assert loaded.requests == [loaded.path.as_uri()], "the page asked for more than itself"
    assert loaded.errors == []
    assert [text for kind, text in loaded.console if kind in {"error", "warning"}] == []


def test_every_chart_has_drawn_marks_legends_and_tooltips(loaded: Loaded) -> None:
    charts: list[dict[str, Any]] = loaded.page.eval_on_selector_all(
        ".vega-chart",
        """(holders) => holders.map((el) => ({
             label: el.getAttribute("aria-label"),
             failed: el.classList.contains("failed") ? el.textContent : null,
             paths: [...el.querySelectorAll("svg.marks .role-mark path")]
                      .filter((p) => (p.getAttribute("d") || "").length > 2).length,
             legends: el.querySelectorAll("svg.marks .role-legend").length,
             tooltips: el.querySelectorAll("svg.marks .role-mark path").length,
           }))""",
    )
    assert len(charts) == chart_count(loaded.report_md) == 4
    by_label = {c["label"]: c for c in charts}
    assert set(by_label) == {"Training loss", "confusion", "curves/pr.json", "curves/unstable.csv"}
    for chart in charts:
        assert chart["failed"] is None, chart
        assert chart["paths"] > 0, chart
        assert chart["legends"] >= 1, chart  # revision colours; better/worse for confusion


def hover_tooltip(page: Page, selector: str) -> str:
    """Hover the first mark matching `selector`; the text vega-tooltip shows for it."""
    page.mouse.move(0, 0)
    mark = page.locator(selector).first
    mark.scroll_into_view_if_needed()
    box = mark.bounding_box()
    assert box is not None
    # The middle: over a confusion cell's label, which must show the cell's tooltip too.
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.locator("#vg-tooltip-element.visible")
    tooltip.wait_for(state="visible", timeout=5_000)
    return str(tooltip.inner_text())


def test_tooltips_name_revision_and_values(loaded: Loaded) -> None:
    page = loaded.page
    scatter = '.vega-chart[aria-label="curves/pr.json"] svg.marks .mark-symbol.role-mark path'
    text = hover_tooltip(page, scatter)
    assert "revision" in text and "recall" in text and "precision" in text
    cell = '.vega-chart[aria-label="confusion"] svg.marks .mark-rect.role-mark path'
    text = hover_tooltip(page, cell)
    assert "actual" in text and "count" in text


def axis_labels(page: Page, label: str) -> list[str]:
    texts: list[str] = page.eval_on_selector_all(
        f'.vega-chart[aria-label="{label}"] svg.marks .role-axis-label text',
        "(nodes) => nodes.map((n) => n.textContent)",
    )
    return texts


def test_line_charts_zoom_with_the_wheel(loaded: Loaded) -> None:
    page = loaded.page
    before = axis_labels(page, "Training loss")
    chart = page.locator('.vega-chart[aria-label="Training loss"] svg.marks')
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    page.wait_for_timeout(300)
    zoomed = axis_labels(page, "Training loss")
    assert zoomed != before
    # Dragging pans the zoomed chart.
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 2 / 3, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    page.wait_for_timeout(300)
    assert axis_labels(page, "Training loss") not in (zoomed, before)


def test_image_plots_are_embedded_and_decoded(loaded: Loaded) -> None:
    images: list[dict[str, Any]] = loaded.page.eval_on_selector_all(
        "main img", "(imgs) => imgs.map((i) => ({src: i.src.slice(0, 22), w: i.naturalWidth}))"
    )
    assert len(images) == loaded.report_md.count("](plots/images-") == 3
    assert all(i["src"] == "data:image/png;base64," and i["w"] > 0 for i in images), images


def test_sections_match_report_md(loaded: Loaded) -> None:
    headings: list[str] = loaded.page.eval_on_selector_all(
        "main h2, main h3, main h4, main h5", "(hs) => hs.map((h) => h.textContent.trim())"
    )
    expected = [
        re.sub(r"\\(.)", r"\1", re.sub(r"[*`]", "", line.lstrip("#").strip()))
        for line in loaded.report_md.splitlines()
        if re.match(r"#{2,5} ", line)
    ]
    assert headings == expected


def test_screenshot_for_a_person_to_look_at(
    loaded: Loaded, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Written under the test's temp dir (and to $DVC_CML_SCREENSHOTS, if set)."""
    page = loaded.page
    page.reload()  # as first drawn: the other tests zoomed and hovered
    page.wait_for_function(
        """() => [...document.querySelectorAll(".vega-chart")].every(
             (el) => el.querySelector("svg.marks"))""",
        timeout=30_000,
    )
    target = tmp_path_factory.mktemp("screenshots") / "report.png"
    page.screenshot(path=str(target), full_page=True)
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    print(f"screenshot of report.html: {target}")
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(target, Path(SCREENSHOTS) / "report.png")
