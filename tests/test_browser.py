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
    from playwright.sync_api import Browser, Locator, Page, Request, Route

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


# Helpers that run in the page: Vega's scenegraph says what each chart drew and where.
PAGE_HELPERS = """
window.testing = {
  // Every mark of the scenegraph, from `mark` down (a group's items hold marks).
  allMarks(mark, out = []) {
    out.push(mark);
    for (const item of mark.items || []) {
      for (const child of item.items || []) this.allMarks(child, out);
    }
    return out;
  },
  // The items of the data marks of one type.
  marks(view, type) {
    return this.allMarks(view.scenegraph().root)
      .filter((mark) => mark.role === "mark" && mark.marktype === type)
      .flatMap((mark) => mark.items);
  },
  middle(view, type) {
    const items = this.marks(view, type);
    return items[Math.floor(items.length / 2)];
  },
  // Painted at all: by its fill or by its stroke.
  visible(item) {
    const none = (colour) => !colour || colour === "transparent" || colour === "none";
    const filled = !none(item.fill) && item.fillOpacity !== 0;
    const stroked = !none(item.stroke) && item.strokeOpacity !== 0 && item.strokeWidth !== 0;
    return item.opacity !== 0 && (filled || stroked);
  },
  roles(view) {
    return this.allMarks(view.scenegraph().root).map((mark) => mark.role || "");
  },
  // Where an item's middle is on the page: its place (a symbol's centre, a rect's corner)
  // through every enclosing group, the view's origin and the canvas's place.
  where(index, item) {
    const view = dvcCml.views[index];
    let x = (item.x || 0) + (item.width || 0) / 2, y = (item.y || 0) + (item.height || 0) / 2;
    for (let group = item.mark.group; group; group = group.mark && group.mark.group) {
      x += group.x || 0;
      y += group.y || 0;
    }
    const box = view.container().querySelector("canvas").getBoundingClientRect();
    const [ox, oy] = view.origin();
    return [box.left + ox + x, box.top + oy + y];
  },
  // Pixels in colour (marks; axes and text are grey): the canvas was really painted.
  colourful(index) {
    const canvas = dvcCml.views[index].container().querySelector("canvas");
    const data = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      const [r, g, b] = [data[i], data[i + 1], data[i + 2]];
      if (data[i + 3] > 0 && Math.max(r, g, b) - Math.min(r, g, b) > 60) count += 1;
    }
    return count;
  },
};
"""


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
    wait_until_drawn(page)
    page.evaluate(PAGE_HELPERS)
    yield result
    context.close()


def wait_until_drawn(page: Page) -> None:
    page.wait_for_function(
        """() => [...document.querySelectorAll(".vega-chart")].every((el) => el.dataset.drawn)""",
        timeout=60_000,
    )


def chart_count(report_md: str) -> int:
    """Charts in report.md: PNGs with a Vega-Lite spec beside them."""
    return len(re.findall(r"\]\((plots/[^)]+)\.png\)\n\n<sub>\[Vega-Lite spec\]", report_md))


def chart_index(page: Page, label: str) -> int:
    labels: list[str] = page.eval_on_selector_all(
        ".vega-chart", "(els) => els.map((el) => el.getAttribute('aria-label'))"
    )
    return labels.index(label)


def test_page_loads_offline_without_errors(loaded: Loaded) -> None:
    assert loaded.requests == [loaded.path.as_uri()], "the page asked for more than itself"
    assert loaded.errors == []
    assert [text for kind, text in loaded.console if kind in {"error", "warning"}] == []


def test_every_chart_is_drawn_with_marks_and_a_legend(loaded: Loaded) -> None:
    charts: list[dict[str, Any]] = loaded.page.evaluate(
        """() => [...document.querySelectorAll(".vega-chart")].map((el, index) => {
             const view = dvcCml.views[index];
             const roles = view ? testing.roles(view) : [];
             return {
               label: el.getAttribute("aria-label"),
               drawn: el.dataset.drawn,
               marks: roles.filter((role) => role === "mark").length,
               legends: roles.filter((role) => role === "legend").length,
               // The page's hover marks must not blank out the legend's line symbols.
               hiddenInLegend: view ? testing.allMarks(view.scenegraph().root)
                 .filter((mark) => mark.role === "legend-symbol")
                 .flatMap((mark) => mark.items)
                 .filter((item) => !testing.visible(item)).length : 0,
               colourful: view ? testing.colourful(index) : 0,
             };
           })"""
    )
    assert len(charts) == chart_count(loaded.report_md) == 4
    assert {c["label"] for c in charts} == {
        "Training loss",
        "confusion",
        "curves/pr.json",
        "curves/unstable.csv",
    }
    for chart in charts:
        assert chart["drawn"] == "true", chart
        assert chart["marks"] > 0, chart
        assert chart["legends"] >= 1, chart  # revision colours; better/worse for confusion
        assert chart["hiddenInLegend"] == 0, chart
        assert chart["colourful"] > 500, chart  # the marks are on the canvas, not only in data


def hover_tooltip(page: Page, label: str, marktype: str) -> str:
    """Point at the first `marktype` item of a chart; the text vega-tooltip shows for it."""
    index = chart_index(page, label)
    page.locator(".vega-chart").nth(index).scroll_into_view_if_needed()
    x, y = page.evaluate(
        f"() => testing.where({index}, testing.middle(dvcCml.views[{index}], {marktype!r}))"
    )
    tooltip = page.locator("#vg-tooltip-element.visible")
    # The computed place can be a few pixels off a 5-pixel symbol: look around it, nearest
    # first, as a reader's pointer would.
    offsets = sorted(
        ((dx, dy) for dx in range(-15, 16, 3) for dy in range(-15, 16, 3)),
        key=lambda d: d[0] ** 2 + d[1] ** 2,
    )
    for dx, dy in offsets:
        page.mouse.move(0, 0)
        page.mouse.move(x + dx, y + dy)
        if tooltip.is_visible():
            return str(tooltip.inner_text())
    raise AssertionError(f"no tooltip near {label} {marktype} mark at ({x:.0f}, {y:.0f})")


def test_tooltips_name_revision_and_values(loaded: Loaded) -> None:
    page = loaded.page
    text = hover_tooltip(page, "curves/pr.json", "symbol")
    assert "revision" in text and "recall" in text and "precision" in text
    # A confusion cell: its middle is its label, which shows the cell's tooltip too.
    text = hover_tooltip(page, "confusion", "rect")
    assert "actual" in text and "count" in text
    # A line: every point has an invisible mark to hover in the page.
    text = hover_tooltip(page, "Training loss", "symbol")
    assert "revision" in text and "step" in text and "loss" in text


def x_domain(page: Page, index: int) -> list[float]:
    domain: list[float] = page.evaluate(f"() => dvcCml.views[{index}].scale('x').domain()")
    return domain


def test_line_charts_zoom_with_the_wheel_and_pan_by_dragging(loaded: Loaded) -> None:
    page = loaded.page
    index = chart_index(page, "Training loss")
    chart = page.locator(".vega-chart canvas").nth(index)
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    assert box is not None
    before = x_domain(page, index)
    page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    page.wait_for_timeout(300)
    zoomed = x_domain(page, index)
    assert zoomed[1] - zoomed[0] < (before[1] - before[0]) * 0.9, (before, zoomed)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 2 / 3, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    page.wait_for_timeout(300)
    panned = x_domain(page, index)
    assert panned[0] < zoomed[0]  # dragged right: earlier steps come into view
    assert panned[1] - panned[0] == pytest.approx(zoomed[1] - zoomed[0])


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
    wait_until_drawn(page)
    target = tmp_path_factory.mktemp("screenshots") / "report.png"
    page.screenshot(path=str(target), full_page=True)
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
    print(f"screenshot of report.html: {target}")
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(target, Path(SCREENSHOTS) / "report.png")


# --- better and worse, without an emoji font ----------------------------------------------

# Reddish and greenish pixels of a screenshot, counted by the page's own canvas (a data URI:
# no request leaves the page).
COUNT_COLOURS = """async (data) => {
  const image = new Image();
  image.src = "data:image/png;base64," + data;
  await image.decode();
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [image.width, image.height];
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
  let green = 0, red = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const [r, g, b] = [pixels[i], pixels[i + 1], pixels[i + 2]];
    if (g - Math.max(r, b) > 40) green += 1;
    if (r - Math.max(g, b) > 40) red += 1;
  }
  return {green, red};
}"""


@pytest.fixture(scope="module")
def verdicts(browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """The `nested` scenario's page: metrics better and worse, a gate passed and one missing."""
    project = build_project("nested", tmp_path_factory.mktemp("verdicts") / "nested")
    project.apply_head()
    argv = ["diff", "main", "-C", str(project.root), "--md"]
    assert main([*argv, "--fail-on", "test.auc<-0.5", "--fail-on", "nope<1"], env={}) == 5
    out = project.root / "dvc-cml-report"
    context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
    page = context.new_page()
    page.goto((out / "report.html").as_uri())
    yield Loaded(page, out / "report.html", (out / "report.md").read_text())
    context.close()


def colours(page: Page, cell: Locator) -> dict[str, int]:
    import base64

    data = base64.b64encode(cell.screenshot()).decode("ascii")
    counted: dict[str, int] = page.evaluate(COUNT_COLOURS, data)
    return counted


def change_cell(page: Page, metric: str) -> Locator:
    row = page.locator("main table tr").filter(has=page.locator(f"td:text-is('{metric}')"))
    return row.locator("td").nth(4)


def test_better_and_worse_look_different_without_an_emoji_font(verdicts: Loaded) -> None:
    """This machine has no emoji font (CI runners seldom do): typed ✅ and ❌ would be the
    same empty box.  The page draws its marks, green and red, in shapes of their own."""
    page = verdicts.page
    assert "+0.05 ✅" in verdicts.report_md and "+0.05 ❌" in verdicts.report_md  # kept there
    text = page.locator("main").inner_text()
    assert not {"✅", "❌", "⚠"} & set(text), "the page relies on a font for its marks"

    better = change_cell(page, "train.accuracy")  # +0.05, better
    worse = change_cell(page, "test.loss")  # +0.05, worse: the same number, the other mark
    assert better.inner_text().strip() == worse.inner_text().strip() == "+0.05"
    assert better.locator("svg").get_attribute("aria-label") == "good"
    assert worse.locator("svg").get_attribute("aria-label") == "bad"
    good, bad = colours(page, better), colours(page, worse)
    assert good["green"] > 20 and good["red"] == 0, good
    assert bad["red"] > 20 and bad["green"] == 0, bad
    # The gates' marks too: passed green, missing an amber warning sign.
    gates = page.locator("main table").first
    passed = colours(page, gates.locator("td:text('pass')"))
    missing = gates.locator("td:text('missing')")
    assert passed["green"] > 20 and passed["red"] == 0, passed
    assert colours(page, missing)["green"] == 0
    assert missing.locator("svg").get_attribute("aria-label") == "warning"
