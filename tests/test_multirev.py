"""One base, many revisions, one report: real `dvc exp run` and dvclive experiments, with
DVC's own CLI (`dvc exp show --json`, `dvc plots diff BASE R1 R2 R3 --json`) as the oracle,
locally and in a depth-1 CI clone."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dvc_cml.cli import main
from dvc_cml.collect import collect
from dvc_cml.collect.values import flatten
from dvc_cml.model import DataPlot
from dvc_cml.render.openmetrics import metric_name
from tests.conftest import FakeGitLab, Project, clean_env, git, run_cli
from tests.experiments import QUEUED, Experiments, build, dvc
from tests.experiments import sha as exp_sha
from tests.test_browser import ARGS, CHROMIUM, _why_no_browser, wait_until_drawn

THREE = ("exp-a", "lr_small", "exp-c")


@pytest.fixture(scope="module")
def exps(tmp_path_factory: pytest.TempPathFactory) -> Experiments:
    return build(tmp_path_factory.mktemp("experiments"))


def dvc_values(show: list[dict[str, Any]]) -> dict[str, dict[tuple[str, str, str], Any]]:
    """{revision name: {(metrics|params, path, key): value}} from `dvc exp show --json`."""
    out: dict[str, dict[tuple[str, str, str], Any]] = {}

    def values(data: dict[str, Any]) -> dict[tuple[str, str, str], Any]:
        found = {}
        for kind in ("metrics", "params"):
            for path, result in (data.get(kind) or {}).items():
                for key, value in flatten(result.get("data") or {}).items():
                    found[(kind, path, key)] = value
        return found

    for baseline in show:
        if baseline["rev"] == "workspace":
            continue
        out[baseline["name"]] = values(baseline["data"])
        for exp in baseline.get("experiments") or []:
            if exp["executor"] is None:  # queued and failed ones are not in the report
                out[exp["name"]] = values(exp["revs"][0]["data"])
    return out


def json_report(
    capsys: pytest.CaptureFixture[str], root: Path, out: Path, *args: str
) -> dict[str, Any]:
    code, stdout, err = run_cli(
        capsys, "diff", *args, "-C", str(root), "--json", "--out", str(out), env=clean_env()
    )
    assert code == 0, err
    doc: dict[str, Any] = json.loads(stdout)
    return doc


def our_values(doc: dict[str, Any]) -> dict[str, dict[tuple[str, str, str], Any]]:
    out: dict[str, dict[tuple[str, str, str], Any]] = {}
    for kind in ("metrics", "params"):
        for row in doc[kind]:
            for name, value in row["values"].items():
                if value is not None:
                    out.setdefault(name, {})[(kind, row["path"], row["key"])] = value
    return out


# --- the experiments, as `dvc exp show` lists them ------------------------------------------


def test_experiments_flag_lists_them_as_dvc_exp_show_does(
    exps: Experiments, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = json_report(capsys, exps.root, tmp_path / "out", "main", "-e")
    names = [rev["rev"] for rev in doc["revisions"]]
    # Newest first, as exp show orders them; the queued one left out; dvclive's included.
    assert names == ["main", *exps.names]
    assert set(exps.names) == {"exp-a", "lr_small", "exp-c", "no_metrics", "live_run"}
    assert QUEUED not in names
    shas = {rev["rev"]: rev["sha"] for rev in doc["revisions"]}
    refs = git(
        exps.root, "for-each-ref", "--format=%(refname:lstrip=-1) %(objectname)", "refs/exps"
    )
    assert {n: shas[n] for n in exps.names} == dict(
        line.split() for line in refs.splitlines() if line.split()[0] in exps.names
    )
    assert [key["key"] for key in doc["revisions"]] == ["base", "head", *(
        f"head{i}" for i in range(2, len(exps.names) + 1)
    )]  # fmt: skip


def test_every_experiments_metrics_and_params_match_dvc_exp_show(
    exps: Experiments, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = json_report(capsys, exps.root, tmp_path / "out", "main", "-e")
    assert our_values(doc) == dvc_values(exps.show)
    rows = {(row["path"], row["key"]): row for row in doc["metrics"]}
    # The experiment whose metrics file is missing: removed there, its new file added there.
    accuracy = rows[("metrics.json", "test.accuracy")]
    assert accuracy["values"]["no_metrics"] is None
    assert accuracy["against_base"]["no_metrics"]["status"] == "removed"
    assert rows[("scores.json", "test.accuracy")]["against_base"] == {
        "no_metrics": {
            "change": None,
            "relative_change": None,
            "status": "added",
            "verdict": "neutral",
        }
    }
    # dvclive's metrics: only at the experiment it saved.
    assert rows[("dvclive/metrics.json", "loss")]["values"]["live_run"] == 0.45
    assert accuracy["best"] == ["lr_small"]
    assert doc["summary"]["per_revision"]["lr_small"] == {"better": 4}
    assert doc["summary"]["per_revision"]["exp-a"] == {"worse": 4}


def test_plot_points_per_revision_match_dvc_plots_diff(exps: Experiments, tmp_path: Path) -> None:
    images = tmp_path / "dvc-images"
    plots = json.loads(
        dvc(exps.root, "plots", "diff", "main", *THREE, "--json", "--split", "-o", str(images))
    )["data"]
    report = collect(exps.root, "main", THREE[0], clean_env(), more=THREE[1:])
    names = {key: rev.name for key, rev in zip(report.keys, report.revisions, strict=True)}
    ours = {p.name: p for p in report.plots}
    for name, entries in plots.items():
        [vega] = [e for e in entries if e["type"] == "vega"] or [None]
        if vega is None:  # an image: one file per revision, the same bytes
            plot = ours[name]
            got = {names[k]: data for k, data in plot.by_rev()}  # type: ignore[union-attr]
            for entry in entries:
                [rev] = entry["revisions"]
                assert got[rev] == Path(entry["url"]).read_bytes(), (name, rev)
            continue
        want = Counter(row["rev"] for row in vega["anchor_definitions"]["<DVC_METRIC_DATA>"])
        plot = ours[name]
        assert isinstance(plot, DataPlot)
        have: Counter[str] = Counter()
        for point in plot.points:
            have[names[point.rev]] += point.count
        assert have == want, name
    assert set(ours) == set(plots)
    assert Counter(p.rev for p in ours["loss"].points) == {  # type: ignore[union-attr]
        "base": 50, "head": 50, "head2": 50, "head3": 10
    }  # fmt: skip


# --- the report ---------------------------------------------------------------------------


def test_markdown_report_of_three_experiments(
    exps: Experiments, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = run_cli(
        capsys, "diff", "main", *THREE, "-C", str(exps.root), "--md", "--out", str(tmp_path / "o")
    )
    assert (code, err) == (0, "")
    sha = {n: exp_sha(exps.root, n)[:7] for n in ("main", *THREE)}
    lines = out.splitlines()
    assert lines[0] == f"## DVC report: **main** (`{sha['main']}`) → 3 revisions"
    assert lines[2] == (
        "**exp-a: 4 worse; lr\\_small: 4 better; exp-c: 1 better, 1 worse, 2 unchanged · "
        "3 params changed · 4 of 4 plots changed · data: 5 files changed · "
        "pipeline: 1 of 1 stage changed**"
    )
    assert lines[4:10] == [
        "| Revision | Commit | vs main |",
        "|:---|:---|:---|",
        f"| ⬜ main | `{sha['main']}` | base |",
        f"| 🟧 exp-a | `{sha['exp-a']}` | 4 worse |",
        f"| 🟦 lr\\_small | `{sha['lr_small']}` | 4 better |",
        f"| 🟩 exp-c | `{sha['exp-c']}` | 1 better, 1 worse, 2 unchanged |",
    ]
    assert "| Path | Metric | ⬜ main | 🟧 exp-a | 🟦 lr\\_small | 🟩 exp-c |" in lines
    assert (
        "| metrics.json | test.accuracy | 0.7 | 0.67778<br><sub>-0.02222 ❌</sub> | "
        "**0.71111** ★<br><sub>+0.01111 ✅</sub> | 0.7 |"
    ) in lines
    assert "| params.yaml | train.lr | 0.05 | 0.2 | 0.01 | 0.05 |" in lines
    # A stage changed in every experiment is one row.
    [train] = [line for line in lines if line.startswith("| train |")]
    assert train.startswith("| train | changed at every head |  |  | ")
    assert "train.lr: 0.05 → 0.2 (exp-a), 0.01 (lr\\_small)" in train
    # Every revision's image, side by side; every chart written.
    files = sorted(p.name for p in (tmp_path / "o" / "plots").glob("plots-decision-png.*"))
    assert files == [f"plots-decision-png.{k}.png" for k in ("base", "head", "head2", "head3")]
    # docs/usage.md's report-directory table names each of them.
    usage = (Path(__file__).resolve().parent.parent / "docs" / "usage.md").read_text()
    [row] = [line for line in usage.splitlines() if line.startswith("| `plots/<name>.base.png`")]
    assert all(name.removeprefix("plots-decision-png") in row for name in files)


def test_two_revisions_keep_the_two_column_report(
    exps: Experiments, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = run_cli(
        capsys, "diff", "main", "exp-a", "-C", str(exps.root), "--md", "--out", str(tmp_path)
    )
    assert code == 0
    lines = out.splitlines()
    assert lines[0].endswith("→ **exp-a** (`" + exp_sha(exps.root, "exp-a")[:7] + "`)")
    assert "| Path | Metric | main | exp-a | Change | % |" in lines
    assert "| metrics.json | test.accuracy | 0.7 | 0.67778 | -0.02222 ❌ | -3.2% |" in lines
    assert "⬜" not in out and "Revision" not in out


def test_a_revision_equal_to_the_base_changes_nothing(
    exps: Experiments, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """HEAD is main's commit under another name: its column equals the base's."""
    doc = json_report(capsys, exps.root, tmp_path, "main", "HEAD", "exp-a")
    assert [r["rev"] for r in doc["revisions"]] == ["main", "HEAD", "exp-a"]
    assert doc["revisions"][0]["sha"] == doc["revisions"][1]["sha"]
    assert doc["summary"]["per_revision"]["HEAD"] == {"unchanged": 4}
    for row in doc["metrics"] + doc["params"]:
        assert row["values"]["HEAD"] == row["values"]["main"]
    assert {c["rev"] for c in doc["data"]["changed"]} == {"exp-a"}
    assert {c["rev"] for c in doc["pipeline"]["changed"]} == {"exp-a"}


def test_a_name_given_twice_or_naming_the_base_is_one_column(
    exps: Experiments, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = json_report(capsys, exps.root, tmp_path, "main", "exp-a", "main", "exp-a", "exp-c")
    assert [r["rev"] for r in doc["revisions"]] == ["main", "exp-a", "exp-c"]


def test_revisions_may_come_among_the_options(
    exps: Experiments, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`dvc-cml diff main --json exp-a`, and one more from $DVC_CML_ARGS (after the command
    line's words), as a user and a CI template would write them."""
    argv = ["diff", "main", "--json", "exp-a", "-C", str(exps.root), "--out", str(tmp_path)]
    code, out, err = run_cli(capsys, *argv, env=clean_env(DVC_CML_ARGS="--no-post exp-c"))
    assert (code, err) == (0, "")
    assert [r["rev"] for r in json.loads(out)["revisions"]] == ["main", "exp-a", "exp-c"]


def test_metrics_report_holds_the_first_revisions_metrics(
    exps: Experiments, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """GitLab's widget compares one value per metric with the target branch's: the first
    REV's, as `dvc exp show` has them."""
    report = tmp_path / "metrics.txt"
    argv = ["diff", "main", "lr_small", "exp-a", "-C", str(exps.root), "--out", str(tmp_path)]
    code, _, err = run_cli(capsys, *argv, "--md", "--metrics-report", str(report), env=clean_env())
    assert (code, err) == (0, "")
    lines = report.read_text().splitlines()
    samples = {
        name: float(value)
        for name, value in (line.split() for line in lines if not line.startswith("#"))
    }
    theirs = dvc_values(exps.show)

    def metrics_of(name: str) -> dict[str, float]:
        return {
            f'{metric_name(key)}{{file="{path}"}}': float(value)
            for (kind, path, key), value in theirs[name].items()
            if kind == "metrics"
        }

    assert samples == metrics_of("lr_small") != metrics_of("exp-a")
    assert len(samples) == 4


def test_usage_errors_name_the_diff_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "diff", "main", "exp-a", "exp-b", "--bogus")
    assert (code, out) == (2, "")
    assert err.startswith("usage: dvc-cml diff ")
    assert err.splitlines()[-1] == "dvc-cml diff: error: unrecognized arguments: --bogus"
    code, _, err = run_cli(capsys, "check", "--nope")
    assert code == 2
    assert err.splitlines()[-1] == "dvc-cml check: error: unrecognized arguments: --nope"


def test_check_judges_each_gate_at_every_revision(
    exps: Experiments, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        capsys,
        "check",
        "main",
        *THREE,
        "-C",
        str(exps.root),
        "--fail-on",
        "test.accuracy<-0.01",
        env=clean_env(),
    )
    assert code == 5, err
    lines = out.splitlines()
    assert lines[0].startswith("Gates: main (") and "-> exp-a (" in lines[0]
    assert lines[1:] == [
        "FAIL  test.accuracy<-0.01: at exp-a: test.accuracy changed by -0.02222 "
        "(0.7 → 0.67778), below the allowed -0.01",
        "PASS  test.accuracy<-0.01: at lr_small: test.accuracy changed by +0.01111 "
        "(0.7 → 0.71111), not below the allowed -0.01",
        "PASS  test.accuracy<-0.01: at exp-c: test.accuracy changed by 0 (0.7 → 0.7), "
        "not below the allowed -0.01",
        "2 of 3 gate checks passed (1 × 3).",
    ]


def test_primary_metric_names_the_best_revision(
    exps: Experiments, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    config = exps.root / ".dvc-cml.yaml"
    config.write_text("primary: test.loss\n")
    try:
        doc = json_report(capsys, exps.root, tmp_path, "main", *THREE)
    finally:
        config.unlink()
    assert doc["summary"]["text"].startswith("best: lr_small (test.loss 0.74727) · ")
    assert (doc["summary"]["primary"], doc["summary"]["best"]) == ("test.loss", ["lr_small"])


# --- in a CI clone ------------------------------------------------------------------------


def ci_clone(exps: Experiments, dest: Path) -> Path:
    """What a CI job has: main, one commit deep, no experiments, an empty DVC cache."""
    git(
        dest.parent,
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "main",
        f"file://{exps.origin}",
        str(dest),
    )
    assert git(dest, "for-each-ref", "refs/exps") == ""
    return dest


def test_pushed_experiments_are_fetched_by_name_in_a_depth_one_clone(
    exps: Experiments, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    full = json_report(capsys, exps.root, tmp_path / "full", "main", *THREE)
    clone = ci_clone(exps, tmp_path / "ci")
    doc = json_report(capsys, clone, tmp_path / "ci-out", "main", *THREE, "--pull")
    assert doc["revisions"] == full["revisions"]
    assert our_values(doc) == our_values(full)
    assert doc["summary"] == full["summary"]
    # The images of every experiment came from the DVC remote.
    out = tmp_path / "ci-out" / "plots"
    for key in ("base", "head", "head2", "head3"):
        name = f"plots-decision-png.{key}.png"
        assert (out / name).read_bytes() == (tmp_path / "full" / "plots" / name).read_bytes()


def test_experiments_flag_in_a_depth_one_clone(
    exps: Experiments, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    clone = ci_clone(exps, tmp_path / "ci")
    doc = json_report(capsys, clone, tmp_path / "out", "main", "-e", "--pull")
    assert [r["rev"] for r in doc["revisions"]] == ["main", *exps.names]
    assert our_values(doc) == dvc_values(exps.show)
    shutil.rmtree(clone)


# --- report.html in a browser --------------------------------------------------------------


@pytest.mark.skipif(bool(_why_no_browser()), reason=_why_no_browser() or "")
def test_page_draws_every_revision_and_sorts_tables_offline(
    exps: Experiments, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    out = tmp_path / "report"
    argv = ["diff", "main", *THREE, "-C", str(exps.root), "--out", str(out), "--md"]
    assert main(argv, env=clean_env()) == 0
    page_path = out / "report.html"
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, offline=True)
        page = context.new_page()
        page.on("request", lambda request: requests.append(request.url))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(page_path.as_uri())
        wait_until_drawn(page)
        drawn = page.eval_on_selector_all(".vega-chart", "(els) => els.map((e) => e.dataset.drawn)")
        assert drawn == ["true"] * 3  # loss, accuracy, confusion
        # Every revision is in the line chart's legend, in the tables' colours.
        legend = page.evaluate("() => dvcCml.views[0].scale('color').domain()")
        assert legend == [f"{n} ({exp_sha(exps.root, n)[:7]})" for n in ("main", *THREE)]
        swatch = page.eval_on_selector(
            "th .swatch-1", "(el) => getComputedStyle(el).backgroundColor"
        )
        assert swatch == "rgb(245, 133, 24)"  # #f58518, exp-a's orange on the charts

        metrics = "h3:has-text('Metrics') + table"

        def column(index: int) -> list[float]:
            """The leading number of each cell of a column: a value, its change under it."""
            texts = page.eval_on_selector_all(
                f"{metrics} tbody tr", f"(rows) => rows.map((r) => r.cells[{index}].textContent)"
            )
            return [float(re.match(r"[-+]?[0-9.]+", text).group(0)) for text in texts]  # type: ignore[union-attr]

        keys = page.eval_on_selector_all(
            f"{metrics} tbody tr", "(rows) => rows.map((r) => r.cells[1].textContent)"
        )
        assert keys == ["test.accuracy", "test.loss", "train.accuracy", "train.loss"]
        exp_a = f"{metrics} th:nth-child(4)"
        page.click(exp_a)
        assert column(3) == sorted(column(3)) and len(set(column(3))) == 4
        assert page.eval_on_selector(exp_a, "(th) => th.getAttribute('aria-sort')") == "ascending"
        page.focus(exp_a)
        page.keyboard.press("Enter")  # the keyboard sorts too: descending
        assert column(3) == sorted(column(3), reverse=True)
        keys = page.eval_on_selector_all(
            f"{metrics} tbody tr", "(rows) => rows.map((r) => r.cells[1].textContent)"
        )
        assert keys == ["test.loss", "train.accuracy", "test.accuracy", "train.loss"]
        browser.close()
    assert requests == [page_path.as_uri()]
    assert errors == []


# --- posting -------------------------------------------------------------------------------


def test_posted_to_a_merge_request_with_every_revisions_images(
    exps: Experiments, fake_gitlab: FakeGitLab, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake_gitlab.add_project(42, "grp/proj")
    fake_gitlab.add_mr(42, 7, sha="a" * 40)
    fake_gitlab.add_token("glpat-multirev-0123456789", username="dvc-bot")
    env = clean_env(
        GITLAB_CI="true",
        CI_API_V4_URL=fake_gitlab.api_url,
        CI_PROJECT_ID="42",
        CI_MERGE_REQUEST_IID="7",
        CI_COMMIT_SHA="a" * 40,
        DVC_CML_TOKEN="glpat-multirev-0123456789",
    )
    out = tmp_path / "report"
    code, _, err = run_cli(
        capsys, "diff", "main", *THREE, "-C", str(exps.root), "--out", str(out), "--md", env=env
    )
    assert code == 0, err
    [note] = [n for n in fake_gitlab.notes(42, 7) if "<!-- dvc-cml:report -->" in n["body"]]
    body = note["body"]
    assert "→ 3 revisions" in body.splitlines()[1]
    assert (
        f"| 🟩 exp-c | `{exp_sha(exps.root, 'exp-c')[:7]}` | 1 better, 1 worse, 2 unchanged |"
        in body
    )
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", body)
    names = sorted(link.rsplit("/", 1)[1] for link in links)
    assert names == sorted(p.name for p in (out / "plots").glob("*.png"))
    assert len(names) == 3 + 4  # loss, accuracy, confusion; every revision's image
    for link in links:
        assert (
            fake_gitlab.upload_bytes(link) == (out / "plots" / link.rsplit("/", 1)[1]).read_bytes()
        )
    assert body.rstrip().endswith(
        ", ".join(f"{n} `{exp_sha(exps.root, n)[:7]}`" for n in THREE).replace("_", "\\_")
        + "</sub>"
    )


def test_experiments_flag_without_experiments_says_so(
    make_project: Callable[[str], Project], capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("nested")
    code, out, err = run_cli(capsys, "diff", "main", "-e", "-C", str(project.root))
    assert (code, out) == (1, "")
    head = git(project.root, "rev-parse", "--short=7", "HEAD").strip()
    assert err.strip().splitlines()[-1] == (
        f"dvc-cml: error: --experiments: no experiments of HEAD ({head}) here or on origin "
        "(run some with `dvc exp run`; in CI, push them with `dvc exp push origin`)"
    )
    code, _, err = run_cli(
        capsys, "check", "main", "-e", "nope", "-C", str(project.root), "--fail-on", "x<0"
    )
    assert code == 1
    assert "--experiments nope: no such revision in " in err
