"""A hostile merge request, on the writing and drawing side: each case is a branch committed
on top of a clean `main` and compared with it as CI does (`dvc-cml diff main`).  Canary files
outside the repository must keep their bytes and modification times; no file is written
outside the report directory; the run ends with a documented exit code, never a crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dvc_cml.pipeline import init_project
from dvc_cml.render.termtext import visible
from dvc_cml.report import _slugs
from tests.conftest import clean_env, git, run_cli, write_tree
from tests.test_browser import ARGS, CHROMIUM, _why_no_browser, wait_until_drawn

if TYPE_CHECKING:
    from playwright.sync_api import Page

DVC_YAML = """\
metrics:
  - metrics.json
params:
  - params.yaml
plots:
  - plots/loss.csv:
      x: step
      y: loss
"""
# The manifest's name and first line, as written on disk (a format users' folders carry).
MANIFEST = ".dvc-cml-manifest"
MANIFEST_HEADER = "# dvc-cml: the files it wrote here, and the only ones it replaces or removes"
BASE_FILES = {
    "dvc.yaml": DVC_YAML,
    "metrics.json": '{"acc": 0.8, "loss": 0.3}\n',
    "params.yaml": "lr: 0.1\n",
    "plots/loss.csv": "step,loss\n0,0.9\n1,0.5\n2,0.3\n",
}
HEAD_FILES = {
    "metrics.json": '{"acc": 0.85, "loss": 0.25}\n',
    "params.yaml": "lr: 0.05\n",
    "plots/loss.csv": "step,loss\n0,0.8\n1,0.4\n2,0.25\n",
}


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean project on `main`, cloned for each case."""
    root = tmp_path_factory.mktemp("upstream") / "project"
    write_tree(root, BASE_FILES)
    git(root, "init", "-q")
    init_project(root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


@dataclass
class Case:
    root: Path  # the clone, on the branch `feature`
    outside: Path  # canary files outside the repository

    def commit(
        self, files: dict[str, str] | None = None, links: dict[str, str] | None = None
    ) -> None:
        write_tree(self.root, files or {})
        for rel, target in (links or {}).items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.symlink_to(target)
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", "feature")


def snapshot(folder: Path) -> dict[str, tuple[bytes, int] | str]:
    """Every entry below `folder`: a file's bytes and modification time, a link's target."""
    out: dict[str, tuple[bytes, int] | str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[rel] = f"-> {path.readlink()}"
        elif path.is_file():
            out[rel] = (path.read_bytes(), path.stat().st_mtime_ns)
        else:
            out[rel] = "dir"
    return out


@pytest.fixture
def case(upstream: Path, tmp_path: Path) -> Case:
    root = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(upstream), str(root))
    git(root, "checkout", "-q", "-b", "feature")
    write_tree(root, HEAD_FILES)
    outside = tmp_path / "outside"
    write_tree(
        outside,
        {
            "canary.txt": "the runner's file\n",
            "plots/keep.png": b"\x89PNG not ours",
            "plots/loss.png": b"\x89PNG not ours either",
        },
    )
    return Case(root, outside)


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dvc-cml: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], err


# --- Finding 2: the report writer never writes, replaces or deletes through a symlink ---

REPORT_LINKS = {
    "report-dir-itself": {"dvc-cml-report": "{outside}"},
    "gitignore": {"dvc-cml-report/.gitignore": "{outside}/canary.txt"},
    "plots-folder": {"dvc-cml-report/plots": "{outside}/plots"},
    "report-md": {"dvc-cml-report/report.md": "{outside}/canary.txt"},
    "relative-link": {"dvc-cml-report/report.html": "../../outside/canary.txt"},
}


@pytest.mark.parametrize("links", REPORT_LINKS.values(), ids=REPORT_LINKS.keys())
def test_a_committed_symlink_in_the_report_dir_is_never_written_through(
    case: Case, links: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    case.commit(links={rel: target.format(outside=case.outside) for rel, target in links.items()})
    before = snapshot(case.outside)
    code, _, err = run_cli(capsys, "diff", "main", "-C", str(case.root), "--no-post")
    assert snapshot(case.outside) == before
    assert code == 1
    assert_one_line_error(err, "dvc-cml-report")
    assert "symlink" in err or "not a dvc-cml report" in err


def test_a_fake_manifest_does_not_make_a_symlinked_folder_ours(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    """The branch commits a manifest of ours listing plots/loss.png, and `plots` as a link
    to a folder of the runner's: nothing there is deleted or written."""
    manifest = f"{MANIFEST_HEADER}\nplots/loss.png\nplots/keep.png\nreport.md\n"
    case.commit(
        files={f"dvc-cml-report/{MANIFEST}": manifest},
        links={"dvc-cml-report/plots": str(case.outside / "plots")},
    )
    before = snapshot(case.outside)
    code, _, err = run_cli(capsys, "diff", "main", "-C", str(case.root), "--no-post")
    assert snapshot(case.outside) == before
    assert code == 1
    assert_one_line_error(err, "symlink")


def test_a_symlink_at_the_metrics_report_is_replaced_not_followed(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    case.commit(links={"metrics.txt": str(case.outside / "canary.txt")})
    before = snapshot(case.outside)
    code, _, err = run_cli(
        capsys, "diff", "main", "-C", str(case.root), "--no-post", "--metrics-report", "metrics.txt"
    )
    assert (code, err) == (0, "")
    assert snapshot(case.outside) == before
    written = case.root / "metrics.txt"
    assert not written.is_symlink()
    assert 'dvc_acc{file="metrics.json"} 0.85\n' in written.read_text()


def test_a_symlinked_folder_above_the_metrics_report_is_refused(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    case.commit(links={"reports": str(case.outside)})
    before = snapshot(case.outside)
    code, _, err = run_cli(
        capsys, "diff", "main", "-C", str(case.root), "--md", "--metrics-report", "reports/m.txt"
    )
    assert snapshot(case.outside) == before
    assert code == 1
    assert_one_line_error(err, "reports", "symlink")


def test_the_error_log_is_not_written_through_a_symlink(tmp_path: Path) -> None:
    from dvc_cml.errors import write_log

    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    (tmp_path / ".git").mkdir()  # a repository: the report dir is the branch's to shape
    report = tmp_path / "dvc-cml-report"
    report.mkdir()
    (report / "dvc-cml.log").symlink_to(outside)
    with pytest.raises(OSError):
        write_log(report / "dvc-cml.log", RuntimeError("boom"))
    assert outside.read_text() == "keep\n"


def test_the_job_summary_is_not_appended_through_a_symlink(tmp_path: Path) -> None:
    from dvc_cml.errors import UserError
    from dvc_cml.publish.local import append_summary

    outside = tmp_path / "outside.txt"
    outside.write_text("keep\n")
    summary = tmp_path / "step_summary"
    summary.symlink_to(outside)
    with pytest.raises(UserError, match="cannot write the job summary"):
        append_summary(summary, "## report")
    assert outside.read_text() == "keep\n"
    summary.unlink()
    append_summary(summary, "## report")
    append_summary(summary, "## again\n")
    assert summary.read_text() == "## report\n## again\n"


# --- Finding 3: --out replaces and removes only what dvc-cml wrote ---


def test_out_at_a_folder_of_the_user_s_files_is_refused(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = case.root.parent / "mine"
    write_tree(mine, {".gitignore": "my rules\n", "plots/keep.png": b"\x89PNG mine"})
    before = snapshot(mine)
    for _ in range(2):
        code, _, err = run_cli(capsys, "diff", "main", "-C", str(case.root), "--out", str(mine))
        assert code == 1
        assert_one_line_error(err, str(mine), "not empty")
    assert snapshot(mine) == before


def test_out_at_the_repository_root_touches_no_tracked_file(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    case.commit()
    before = snapshot(case.root / "plots")
    for _ in range(2):
        code, _, err = run_cli(capsys, "diff", "main", "-C", str(case.root), "--out", ".")
        assert code == 1
        assert_one_line_error(err, "not empty")
    assert snapshot(case.root / "plots") == before
    assert git(case.root, "status", "--porcelain") == ""


def test_an_earlier_report_is_replaced_and_the_user_s_files_in_it_are_kept(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    out = case.root.parent / "report"
    code, _, _ = run_cli(capsys, "diff", "main", "-C", str(case.root), "--out", str(out))
    assert code == 0
    first = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert first == [
        ".dvc-cml-manifest",
        ".gitignore",
        "plots/plots-loss-csv.png",
        "plots/plots-loss-csv.vl.json",
        "report.html",
        "report.md",
    ]
    write_tree(out, {"notes.txt": "mine\n", "plots/keep.png": b"\x89PNG mine"})
    mine = {rel: v for rel, v in snapshot(out).items() if rel in {"notes.txt", "plots/keep.png"}}
    # The plot's data is the same at both revisions now: no chart, the old one goes.
    write_tree(case.root, {"plots/loss.csv": BASE_FILES["plots/loss.csv"]})
    code, _, err = run_cli(capsys, "diff", "main", "-C", str(case.root), "--out", str(out))
    assert (code, err) == (0, "")
    second = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert second == [
        ".dvc-cml-manifest",
        ".gitignore",
        "notes.txt",
        "plots/keep.png",
        "report.html",
        "report.md",
    ]
    assert {rel: v for rel, v in snapshot(out).items() if rel in mine} == mine
    manifest = (out / MANIFEST).read_text().splitlines()
    assert manifest == [MANIFEST_HEADER, ".gitignore", "report.html", "report.md"]


def test_a_file_of_the_user_s_where_a_chart_goes_is_not_replaced(
    case: Case, capsys: pytest.CaptureFixture[str]
) -> None:
    out = case.root.parent / "report"
    assert run_cli(capsys, "diff", "main", "-C", str(case.root), "--out", str(out))[0] == 0
    (out / "plots").mkdir(exist_ok=True)
    (out / "plots/plots-loss-csv.png").unlink()
    (out / "plots/plots-loss-csv.png").write_bytes(b"mine")
    manifest = (out / MANIFEST).read_text().replace("plots/plots-loss-csv.png\n", "")
    (out / MANIFEST).write_text(manifest)
    code, _, err = run_cli(capsys, "diff", "main", "-C", str(case.root), "--out", str(out))
    assert code == 1
    assert_one_line_error(err, "plots-loss-csv.png", "did not write")
    assert (out / "plots/plots-loss-csv.png").read_bytes() == b"mine"


# --- Finding 6: long plot ids get capped file names ---


def test_slugs_are_capped_and_stay_unique() -> None:
    long_a, long_b = "a" * 300, "a" * 299 + "b"
    slugs = _slugs([long_a, long_b, "loss", "Loss", "ünïcode/é"])
    assert all(len(slug) <= 64 for slug in slugs)
    assert len(set(slugs)) == 5
    assert slugs[2:4] == ["loss", "loss-2"]
    assert all(re.fullmatch(r"[a-z0-9_-]+", slug) for slug in slugs)
    assert _slugs([long_a]) == slugs[:1]  # the same name, the same file, run after run


def test_a_300_character_plot_id_is_drawn(case: Case, capsys: pytest.CaptureFixture[str]) -> None:
    long_ids = ["p" * 300, "p" * 299 + "q"]
    plots = "".join(
        f"  - {name}:\n      x: step\n      y:\n        plots/loss.csv: loss\n" for name in long_ids
    )
    case.commit(files={"dvc.yaml": DVC_YAML + plots})
    code, out, err = run_cli(capsys, "diff", "main", "-C", str(case.root), "--no-post", "--md")
    assert (code, err) == (0, "")
    report = case.root / "dvc-cml-report"
    pngs = sorted(p.name for p in (report / "plots").glob("*.png"))
    assert len(pngs) == 3, pngs
    assert all(len(name.encode()) <= 80 for name in pngs)
    assert all(f"](plots/{name})" in out for name in pngs)


def test_gitlab_upload_names_stay_tame() -> None:
    from dvc_cml.publish.gitlab import upload_name

    for name in _slugs(["a b<c>\x1b[31m" * 30, "../../x", "é"]):
        assert re.fullmatch(r"[A-Za-z0-9._-]+", upload_name(f"plots/{name}.png"))


# --- Finding 5: text a chart cannot hold never kills the run ---


def run_as_ci(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`dvc-cml diff main ARGS` in its own process, as a CI job runs it."""
    return subprocess.run(
        [sys.executable, "-m", "dvc_cml", "diff", "main", "--no-post", *args],
        cwd=root,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=300,
    )


def test_control_characters_and_backslashes_in_names_are_drawn(case: Case) -> None:
    """vl-convert aborts the process on a control character in any chart text, and Vega-Lite
    turns a backslash in a title into one; every chart is drawn all the same."""
    hostile = {
        "plots/ctl.csv": "step,lo\x02ss\n0,0.5\n1,0.4\n",
        "plots/esc.csv": "step,a\\x01b\n0,0.5\n1,0.4\n",
        "plots/cat.csv": "class,n\nok\x0bthen,1\nbad\\x03,2\n",
    }
    defs = (
        '  - "id\\x01\\x1b[31mred":\n      x: step\n      y:\n        plots/loss.csv: loss\n'
        '  - plots/ctl.csv:\n      x: step\n      y: "lo\\x02ss"\n'
        "  - plots/esc.csv:\n      x: step\n      y: 'a\\x01b'\n"
        "  - plots/cat.csv:\n      template: bar_horizontal\n      x: n\n      y: class\n"
    )
    case.commit(files={"dvc.yaml": DVC_YAML + defs, **hostile})
    done = run_as_ci(case.root, "--md")
    assert (done.returncode, done.stderr) == (0, "")
    pngs = sorted(p.name for p in (case.root / "dvc-cml-report" / "plots").glob("*.png"))
    assert pngs == [
        "id-31mred.png",
        "plots-cat-csv.png",
        "plots-ctl-csv.png",
        "plots-esc-csv.png",
        "plots-loss-csv.png",
    ]
    assert "could not be rendered" not in done.stdout


# --- Finding 4: report.html runs no script from a name, sends nothing anywhere ---

XSS = {
    "plot": "<img src=x onerror=alert('plot')>",
    "field": "</script><script>alert('field')</script>",
    "x": '<svg onload=alert("x")>',
    "category": "<img src=x onerror=alert('category')>",
    "branch": "feat<svg/onload=alert(5)>",
}


@pytest.fixture
def hostile_page(case: Case, capsys: pytest.CaptureFixture[str]) -> Path:
    plot, x, field = (json.dumps(XSS[key]) for key in ("plot", "x", "field"))  # YAML scalars
    defs = (
        f"  - {plot}:\n      x: step\n      y:\n        plots/loss.csv: loss\n"
        f"  - plots/xss.csv:\n      x: {x}\n      y: {field}\n"
        "  - plots/cat.csv:\n      template: bar_horizontal\n      x: n\n      y: class\n"
    )
    case.commit(
        files={
            "dvc.yaml": DVC_YAML + defs,
            "plots/xss.csv": f"{XSS['x']},{XSS['field']}\n0,0.5\n1,0.4\n",
            "plots/cat.csv": f"class,n\n{XSS['category']},1\nok,2\n",
        }
    )
    git(case.root, "branch", XSS["branch"])
    code, _, err = run_cli(capsys, "diff", "main", XSS["branch"], "-C", str(case.root), "--no-post")
    assert (code, err) == (0, "")
    return case.root / "dvc-cml-report" / "report.html"


def test_report_html_allows_no_outside_origin(hostile_page: Path) -> None:
    text = hostile_page.read_text()
    [csp] = re.findall(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">', text)
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["img-src"] == "data:"
    assert directives["base-uri"] == directives["form-action"] == "'none'"
    sources = directives["script-src"].split()
    assert len(sources) == 2 and all(re.fullmatch(r"'sha256-[A-Za-z0-9+/]+=*'", s) for s in sources)
    assert not re.search(r"https?:|\*|unsafe-eval|connect-src|wss?:", csp)


@pytest.mark.skipif(bool(_why_no_browser()), reason=_why_no_browser() or "")
def test_every_embed_action_on_a_hostile_page_runs_nothing_and_sends_nothing(
    hostile_page: Path,
) -> None:
    """Chromium opens the page from a hostile branch and clicks every item of every chart's
    menu: no dialog, no popup, no request but the page itself, no script from a name."""
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    requests: list[str] = []
    popups: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(offline=True, accept_downloads=True)

        def watch(page: Page) -> None:
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

        context.on("page", watch)
        context.on("request", lambda request: requests.append(request.url))
        page = context.new_page()
        page.add_init_script(
            "window.violations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " (e) => window.violations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )
        context.on("page", lambda opened: popups.append(opened.url))
        page.goto(hostile_page.as_uri())
        wait_until_drawn(page)
        menus = page.locator(".vega-embed details")
        assert menus.count() == 4
        labels = []
        for index in range(menus.count()):
            menu = menus.nth(index)
            actions = menu.locator(".vega-actions a")
            menu.locator("summary").click()
            labels.append(actions.all_inner_texts())
            for number in range(actions.count()):
                if not menu.evaluate("(el) => el.open"):
                    menu.locator("summary").click()
                action = actions.nth(number)
                if action.inner_text().startswith("Save as"):
                    with page.expect_download() as download:
                        action.click()
                    assert download.value.suggested_filename.startswith("visualization.")
                else:  # what vega-embed offered before: a popup, or the Vega Editor
                    action.click()
                    page.wait_for_timeout(500)
        page.wait_for_timeout(500)
        drawn = page.evaluate("() => document.querySelectorAll('.vega-chart canvas').length")
        violations = page.evaluate("() => window.violations")
        injected = page.evaluate("() => document.querySelectorAll('[onerror], [onload]').length")
        context.close()
        browser.close()
    assert labels == [["Save as SVG", "Save as PNG"]] * 4
    assert dialogs == []
    assert popups == []
    assert [url for url in requests if not url.startswith(("data:", "blob:"))] == [
        hostile_page.as_uri()
    ]
    assert drawn == 4
    assert violations == []
    assert injected == 0  # no element from a name: every one was escaped


# --- Finding 10: escape codes in names never reach the terminal or the CI log ---

ESCAPES = "\x1b[2K\x1b[31mfake\x1b]8;;http://evil.example\x07link\x1b]8;;\x07\r\u202e"
SHOWN = "\\x1b[2K\\x1b[31mfake\\x1b]8;;http://evil.example\\x07link\\x1b]8;;\\x07\\r\\u202e"


def test_visible_writes_every_control_character_as_its_escape() -> None:
    assert visible(ESCAPES) == SHOWN
    assert (
        visible("a\nb\tc\x00\x7f\x9b31m\u200b\ufeff") == "a\\nb\\tc\\x00\\x7f\\x9b31m\\u200b\\ufeff"
    )
    assert visible("plain ünïcode ✅ [link=x] \\x1b") == "plain ünïcode ✅ [link=x] \\x1b"


def test_the_terminal_view_and_the_log_show_escape_codes_from_names(case: Case) -> None:
    """A branch names a metric, a param value, a plot and a gate with escape codes: the
    terminal view (stdout) and every stderr line show them, none is sent."""
    case.commit(
        files={
            "metrics.json": json.dumps({"acc": 0.85, f"x{ESCAPES}": 1}) + "\n",
            "params.yaml": f"lr: 0.05\nnote: {json.dumps(ESCAPES)}\n",
            "dvc.yaml": DVC_YAML.replace(
                "  - plots/loss.csv:", f"  - {json.dumps(ESCAPES)}:"
            ).replace("      y: loss", "      y:\n        plots/loss.csv: loss"),
            ".dvc-cml.yaml": f"fail-on:\n  - {json.dumps('x' + ESCAPES + '<-5')}\n",
        }
    )
    done = run_as_ci(case.root)
    assert done.returncode == 0, done.stderr
    for stream in (done.stdout, done.stderr):
        assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", stream), stream
    # The metric's row, the param's row (both cut to fit the table), the plot's title.
    shown = [line for line in done.stdout.splitlines() if "\\x1b" in line]
    assert len(shown) == 3, done.stdout
    assert f"  {SHOWN} [line]" in shown
    assert done.stderr.splitlines() == [
        f"dvc-cml: PASS  x{SHOWN}<-5: x{SHOWN} is a new metric, no base value to compare (head 1)",
        "dvc-cml: 1 of 1 gate passed.",
    ]


def test_an_error_line_shows_escape_codes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from dvc_cml.errors import UserError, error_boundary

    code = [0]
    with error_boundary(tmp_path / "log", code):
        raise UserError(f"cannot read {ESCAPES}.yaml")
    # One line: line breaks are spaces there.
    one_line = SHOWN.replace("\\r", " ")
    assert capsys.readouterr().err == f"dvc-cml: error: cannot read {one_line}.yaml\n"
    assert code == [1]


def test_the_progress_line_shows_names_as_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """The spinner's step (on a terminal) is a name, never rich markup or an escape code."""
    import pty

    from dvc_cml.render import terminal

    terminal_fd, stderr_fd = pty.openpty()
    said = b""
    with os.fdopen(stderr_fd, "w", encoding="utf-8") as stderr:
        monkeypatch.setattr(sys, "stderr", stderr)
        with terminal.progress() as step:
            step(f"rendering chart 1/1: [link=http://evil.example]x[/link]{ESCAPES}")
            time.sleep(0.3)
    with contextlib.suppress(OSError):  # EIO once read to the end
        while chunk := os.read(terminal_fd, 65536):
            said += chunk
    os.close(terminal_fd)
    text = said.decode("utf-8", "replace").replace("\r\n", "")  # lines wrapped to fit
    assert "[link=http://evil.example]x[/link]" + SHOWN in text
    assert "\x1b]8;;http" not in text and "\x1b[31m" not in text


def test_markdown_shows_no_control_or_bidi_character_from_a_name() -> None:
    from dvc_cml.render.mdtext import code, escape

    assert escape("a\x1b[31mb\x00\x7f\u202ec\td") == "a\ufffd\\[31mb\ufffd\ufffd\ufffdc d"
    assert code("a\x1b[2Kb\u2066") == "`a\ufffd[2Kb\ufffd`"
