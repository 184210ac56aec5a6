"""Generated hostile names: metric, param, plot-id, field, category and branch names drawn from
control characters, ANSI escapes, HTML, Markdown, quotes and very long runs, committed on a
branch of one project and compared with `main` as CI does (posting to the fake GitLab).

Whatever the names, the run ends with exit 0 or a documented code in one line, never a crash;
report.md and the comment hold no markup and no control character from a name; report.html
runs no script of a name's and loads nothing; the terminal and the log show no escape code;
nothing is written outside the report directory, and its file names are tame.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dvc_cml.cli import main
from dvc_cml.pipeline import init_project
from tests.conftest import FakeGitLab, git, write_tree
from tests.test_gitlab import TOKEN, ci_env, dvc_cml_notes
from tests.test_hostile_output import BASE_FILES, HEAD_FILES, snapshot

TOKENS = [
    "loss",
    "a.b",
    "é✅",
    "\x1b[31m",
    "\x1b[2K",
    "\x1b]8;;http://evil.example\x07link\x1b]8;;\x07",
    "\r",
    "\n",
    "\t",
    "\x01",
    "\x7f",
    "\x9b",
    "\u202e",
    "\ufffe",
    "<script>alert(1)</script>",
    "</script><script>alert(2)</script>",
    "<img src=x onerror=alert(3)>",
    "[x](javascript:alert(4))",
    "|",
    "*_`~",
    "@all",
    "/label ~bug",
    "&amp;",
    "'",
    '"',
    "\\",
    "\\x02",
    "x" * 300,
]
# Branch names git accepts (no control character, space, `~^:?*[\`, `..`, `@{`).
BRANCH_TOKENS = ["feat", "<img/src=x/onerror=alert(5)>", "</script>", "\"'&|", "%1b", "{x}", "=;!"]

names = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=5).map("".join)
branches = st.lists(st.sampled_from(BRANCH_TOKENS), min_size=1, max_size=4).map("".join)

OUR_TAGS = {"details", "summary", "sub", "br"}  # what report.md and the comment use
HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("names") / "project"
    write_tree(root, BASE_FILES)
    git(root, "init", "-q")
    init_project(root)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    write_tree(root.parent / "outside", {"canary.txt": "the runner's file\n"})
    return root


def csv_text(rows: list[list[object]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def branch_files(
    metric: str, param: str, value: str, plot: str, field: str, category: str
) -> dict[str, str]:
    dvc_yaml = {
        "metrics": ["metrics.json"],
        "params": ["params.yaml"],
        "plots": [
            {"plots/loss.csv": {"x": "step", "y": "loss"}},
            {plot: {"x": "step", "y": {"plots/h.csv": field}}},
            {"plots/cat.csv": {"template": "bar_horizontal", "x": "n", "y": "class"}},
        ],
    }
    return {
        **HEAD_FILES,
        "dvc.yaml": yaml.safe_dump(dvc_yaml, allow_unicode=True),
        "metrics.json": json.dumps({"acc": 0.85, metric: 1.5}),
        "params.yaml": yaml.safe_dump({"lr": 0.05, param: value}, allow_unicode=True),
        "plots/h.csv": csv_text([["step", field], [0, 0.5], [1, 0.25]]),
        "plots/cat.csv": csv_text([["class", "n"], [category, 1], ["ok", 2]]),
    }


class Page(HTMLParser):
    """What report.html holds: its tags, attributes and inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script" and dict(attrs).get("type") != "application/json"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


def check_markdown(text: str) -> None:
    assert not HIDDEN.search(text), text
    tags = {match.lower() for match in re.findall(r"</?([A-Za-z][A-Za-z0-9-]*)", text)}
    assert tags <= OUR_TAGS, tags
    assert not re.search(r"(?<!\\)\]\(javascript:", text)
    assert not re.search(r"@all\b", text)
    assert not re.search(r"^/label", text, re.M)


def check_page(text: str) -> None:
    page = Page()
    page.feed(text)
    [csp] = [a["content"] for tag, a in page.tags if tag == "meta" and a.get("http-equiv")]
    assert csp is not None and "http" not in csp and "unsafe" not in csp.split("style-src")[0]
    hashes = {
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in page.scripts
    }
    assert hashes == set(re.findall(r"'sha256-[^']+'", csp))
    for tag, attrs in page.tags:
        assert tag not in {"iframe", "object", "embed", "form", "base", "link"}, tag
        if tag == "svg":  # the page's own ✅/❌/⚠️ marks, nothing else
            assert (attrs.get("class") or "").startswith("mark "), attrs
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name in ("href", "src"):
            assert not (attrs.get(name) or "").strip().lower().startswith("javascript:")
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/")


@settings(
    max_examples=25,  # each example is a commit and a run posting to the fake GitLab
    deadline=None,
    derandomize=True,  # the same examples on every CI run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    metric=names,
    param=names,
    value=names,
    plot=names,
    field=names,
    category=names,
    branch=branches,
)
def test_hostile_names_keep_every_output_safe(
    project: Path,
    fake_gitlab: FakeGitLab,
    capsys: pytest.CaptureFixture[str],
    metric: str,
    param: str,
    value: str,
    plot: str,
    field: str,
    category: str,
    branch: str,
) -> None:
    if metric == "acc" or param == "lr" or field == "step":
        return  # not a new name
    if 42 not in fake_gitlab.projects:  # the server is one for every example
        fake_gitlab.add_project(42, "grp/proj")
        fake_gitlab.add_mr(42, 7, sha="a" * 40)
        fake_gitlab.add_token(TOKEN, username="dvc-bot")
    outside = snapshot(project.parent / "outside")
    git(project, "checkout", "-q", "-B", branch, "main")
    write_tree(project, branch_files(metric, param, value, plot, field, category))
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "hostile names")
    capsys.readouterr()
    code = main(["diff", "main", branch, "-C", str(project)], env=ci_env(fake_gitlab))
    out, err = capsys.readouterr()
    git(project, "checkout", "-q", "main")

    assert "Traceback" not in out + err
    assert not HIDDEN.search(out) and not HIDDEN.search(err), (out, err)
    if code == 1:  # a name DVC itself refuses: one line, as any problem you can fix
        assert err.startswith("dvc-cml: error: ") and err.count("\n") == 1, err
        return
    assert code == 0, err
    report = project / "dvc-cml-report"
    check_markdown((report / "report.md").read_text())
    check_markdown(dvc_cml_notes(fake_gitlab)[-1]["body"])
    check_page((report / "report.html").read_text())
    files = [p.relative_to(report).as_posix() for p in report.rglob("*") if p.is_file()]
    assert all(re.fullmatch(r"[A-Za-z0-9._/-]{1,100}", rel) for rel in files), files
    assert snapshot(project.parent / "outside") == outside
    # Nothing written in the repository but the (self-ignoring) report directory and DVC's
    # own .dvc/tmp.
    status = git(project, "status", "--porcelain", "--ignored", "--untracked-files=all")
    written = [line for line in status.splitlines() if not line.startswith("!! .dvc/tmp/")]
    assert written == [f"!! dvc-cml-report/{rel}" for rel in sorted(files)]
