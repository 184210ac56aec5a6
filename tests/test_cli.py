"""The command line end to end: real repos, `main([...])` in-process, exit codes and output."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from dvc_cml.cli import build_parser, main, parse
from dvc_cml.errors import EXIT_INTERNAL, error_boundary
from tests.conftest import Project, clean_env, git, run_cli

MakeProject = Callable[[str], Project]


def assert_one_line_error(err: str, *fragments: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dvc-cml: error: ")
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_md_escapes_names_and_values_end_to_end(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("escape")
    project.apply_head()
    code, out, err = run_cli(capsys, "diff", "main", "-C", str(project.root), "--md")
    assert (code, err) == (0, "")
    rows = [line for line in out.splitlines() if line.startswith("| metrics.json")]
    assert rows == [
        "| metrics.json | &lt;script&gt;alert(1)&lt;/script&gt; | 0.5 | 0.25 | -0.25 | -50.0% |",
        "| metrics.json | a&#124;b | 1 | 2 | +1 | +100.0% |",
        "| metrics.json | note | plain | x&#124;y<br>z &lt;b&gt; | changed |  |",
    ]
    assert "<script>" not in out
    # The file on disk is the same document.
    assert (project.root / "dvc-cml-report" / "report.md").read_text() == out


def test_json_document(make_project: MakeProject, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project("plots")
    project.apply_head()
    out_dir = project.root.parent / "report"
    code, out, _ = run_cli(capsys, "diff", "-C", str(project.root), "--json", "--out", str(out_dir))
    assert code == 0
    doc = json.loads(out)
    sha = git(project.root, "rev-parse", "main").strip()
    assert doc["base"] == {"rev": "main", "sha": sha, "dirty": False}
    # head/ is laid over the workspace, uncommitted: it is not its commit.
    assert doc["head"] == {"rev": "workspace", "sha": sha, "dirty": True}
    assert doc["html"] == str(out_dir / "report.html")
    assert Path(doc["html"]).read_text().startswith("<!DOCTYPE html>")
    plots = {p["name"]: p for p in doc["plots"]}
    assert plots["loss"]["kind"] == "line"
    assert plots["loss"]["png"] == str(out_dir / "plots" / "loss.png")
    assert plots["loss"]["spec"] == str(out_dir / "plots" / "loss.vl.json")
    assert Path(plots["loss"]["png"]).read_bytes().startswith(b"\x89PNG")
    assert plots["confusion"]["kind"] == "confusion"
    assert plots["images/sample.png"]["images"] == {
        "base": str(out_dir / "plots" / "images-sample-png.base.png"),
        "head": str(out_dir / "plots" / "images-sample-png.head.png"),
    }
    # The report dir lives outside the project here; nothing inside the project changed
    # beyond the scenario's own head files.
    assert "dvc-cml-report" not in project.status()


def test_json_metrics_and_params_rows(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("nested")
    project.apply_head()
    code, out, _ = run_cli(capsys, "diff", "main", "-C", str(project.root), "--json")
    assert code == 0
    doc = json.loads(out)
    metrics = {m["metric"]: m for m in doc["metrics"]}
    assert metrics["train.loss"]["path"] == "metrics.json"
    assert (metrics["train.loss"]["base"], metrics["train.loss"]["head"]) == (0.5, 0.4)
    assert metrics["train.loss"]["change"] == pytest.approx(-0.1)
    assert metrics["test.f1"]["base"] is None
    assert metrics["test.f1"]["status"] == "added"
    params = {p["param"]: p for p in doc["params"]}
    assert params["train.optimizer.name"]["head"] == "sgd"
    assert params["train.dropout"]["status"] == "removed"


def test_terminal_view_when_piped(
    make_project: MakeProject, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project("nested")
    project.apply_head()
    code, out, err = run_cli(capsys, "diff", "main", "-C", str(project.root))
    assert (code, err) == (0, "")
    assert "\x1b[" not in out
    assert re.search(r"\| metrics.json +\| train.loss +\| +0.5 \| +0.4 \| +-0.1 better \|", out)
    assert "Report written to " + str(project.root / "dvc-cml-report" / "report.md") in out
    assert out.endswith(f"Interactive report: {project.root / 'dvc-cml-report' / 'report.html'}\n")
    # The report dir keeps itself out of git status.
    assert "dvc-cml-report" not in project.status()


def test_not_a_git_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "diff", "main", "-C", str(tmp_path))
    assert code == 1
    assert_one_line_error(err, str(tmp_path), "not inside a git repository")


def test_git_but_not_dvc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(tmp_path, "init", "-q")
    code, _, err = run_cli(capsys, "diff", "main", "-C", str(tmp_path))
    assert code == 1
    assert_one_line_error(err, "not a DVC project", "dvc init")


def test_missing_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "diff", "-C", str(tmp_path / "nope"))
    assert code == 1
    assert_one_line_error(err, "nope is not a directory")


def test_unknown_base(make_project: MakeProject, capsys: pytest.CaptureFixture[str]) -> None:
    project = make_project("nested")
    code, _, err = run_cli(capsys, "diff", "no-such-branch", "-C", str(project.root))
    assert code == 1
    assert_one_line_error(err, "revision 'no-such-branch' does not exist")


def test_corrupt_params(make_project: MakeProject, capsys: pytest.CaptureFixture[str]) -> None:
    """The root params.yaml is read by dvc.yaml's interpolation: DVC cannot load the
    revision at all, so there is nothing of it to report (a file that costs only itself is
    listed instead: tests/test_half_written.py)."""
    project = make_project("nested")
    project.write("params.yaml", "train: {lr: 0.1\n")
    code, _, err = run_cli(capsys, "diff", "main", "-C", str(project.root))
    assert code == 1
    assert_one_line_error(err, "params.yaml does not parse at workspace", "line 2, column 1")


def test_nothing_to_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dvc_cml.pipeline import init_project

    git(tmp_path, "init", "-q")
    init_project(tmp_path)
    (tmp_path / "README").write_text("no pipeline yet\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    sha = git(tmp_path, "rev-parse", "--short=7", "HEAD").strip()
    code, out, err = run_cli(capsys, "diff", "main", "-C", str(tmp_path))
    assert (code, err) == (0, "")
    assert out == (
        f"Nothing to compare: no metrics, params or plots at main ({sha}) or workspace ({sha}).\n"
    )
    assert not (tmp_path / "dvc-cml-report").exists()
    # Several revisions: each one named.
    git(tmp_path, "branch", "other")
    code, out, err = run_cli(capsys, "diff", "main", "other", "HEAD", "-C", str(tmp_path))
    assert (code, err) == (0, "")
    assert out == (
        f"Nothing to compare: no metrics, params or plots at main ({sha}), other ({sha}) or "
        f"HEAD ({sha}).\n"
    )


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--md", "--json"], env={}) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(["frobnicate"], env={}) == 2


def test_revisions_before_between_and_after_options() -> None:
    """Positional revisions anywhere among a subcommand's options; an option's value stays
    its own (`-e v1`, `--fail-on GATE`)."""
    parser = build_parser()
    args = parse(parser, ["diff", "main", "--md", "exp-a", "-C", "proj", "exp-b", "-e", "v1"])
    assert (args.base, args.head, args.more) == ("main", "exp-a", ["exp-b"])
    assert (args.md, args.path, args.experiments) == (True, "proj", "v1")
    args = parse(parser, ["check", "--fail-on", "acc<0", "main", "--out", "o", "exp-a"])
    assert (args.base, args.head, args.more, args.fail_on) == ("main", "exp-a", [], ["acc<0"])
    args = parse(parser, ["diff", "--json", "main"])
    assert (args.base, args.head, args.json) == ("main", None, True)
    # `-e` takes the word after it as its baseline; before another option, it takes none.
    args = parse(parser, ["diff", "-e", "main"])
    assert (args.base, args.head, args.experiments) == (None, None, "main")
    args = parse(parser, ["diff", "-e", "--json", "main", "exp-a"])
    assert (args.base, args.head, args.experiments, args.json) == ("main", "exp-a", "HEAD", True)


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"], env={}) == 0
    assert "diff" in capsys.readouterr().out
    assert main(["diff", "--help"], env={}) == 0
    out = capsys.readouterr().out
    assert "CI_MERGE_REQUEST_TARGET_BRANCH_NAME" in out
    assert "--no-post" in out
    # What GitLab's metrics widget gets from a report of several revisions.
    metrics_report = " ".join(
        out.split("\n  --metrics-report FILE")[1].split("\n  --fail-on")[0].split()
    )
    assert "with several revisions, only the first REV's" in metrics_report


def exit_codes() -> set[int]:
    """Every code dvc-cml exits with, as errors.py names them."""
    from dvc_cml import errors

    return {v for k, v in vars(errors).items() if k.startswith("EXIT_") and isinstance(v, int)}


def test_help_and_docs_list_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_codes() == {0, 1, 2, 3, 4, 5, 6, 7, 130}
    for argv in (["--help"], ["diff", "--help"]):
        assert main(argv, env={}) == 0
        text = capsys.readouterr().out
        listed = text.split("exit codes:\n")[1]
        codes = {int(line.split()[0]) for line in listed.splitlines() if line.strip()}
        assert codes == exit_codes(), argv
    assert main(["check", "--help"], env={}) == 0
    check = capsys.readouterr().out.split("exit codes:")[1]
    assert {int(n) for n in re.findall(r"\b(\d+) ", check)} == {0, 1, 2, 3, 5, 130}
    usage = (Path(__file__).resolve().parent.parent / "docs" / "usage.md").read_text()
    table = usage.split("## Exit codes")[1]
    assert {int(n) for n in re.findall(r"^\| (\d+) \|", table, re.M)} == exit_codes()


def test_demo_help_offers_only_its_own_flags(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--help"], env={}) == 0
    text = capsys.readouterr().out
    assert "-C" not in text
    assert "(default: dvc-cml-report/, in the current directory)" in " ".join(text.split())


def test_internal_error_goes_to_a_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = [0]
    log = tmp_path / "out" / "dvc-cml.log"
    with error_boundary(log, code):
        raise ZeroDivisionError("boom")
    err = capsys.readouterr().err
    assert code == [EXIT_INTERNAL]
    assert err.count("\n") == 1
    assert "internal error: ZeroDivisionError: boom" in err
    assert str(log) in err
    assert "Traceback" not in err
    assert "Traceback (most recent call last)" in log.read_text()
    assert "ZeroDivisionError: boom" in log.read_text()


def test_demo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "demo-report"
    code, out, err = run_cli(capsys, "demo", "--out", str(out_dir))
    assert (code, err) == (0, "")
    assert "train.lr" in out
    # The project is kept, and the last line says where and how to remove it.
    last = out.splitlines()[-1]
    found = re.fullmatch(r"The example project stays in (\S+); remove it with: rm -rf (\S+)", last)
    assert found, last
    project, temp = Path(found.group(1)), Path(found.group(2))
    assert project.parent == temp and temp.name.startswith("dvc-cml-demo-")
    assert git(project, "log", "--format=%s").splitlines() == [
        "Lower the learning rate, regularise more",
        "Baseline model",
    ]
    shutil.rmtree(temp)
    report = (out_dir / "report.md").read_text()
    assert "| params.yaml | train.lr | 0.05 | 0.01 | -0.04 |" in report
    assert "| params.yaml | train.l2 | 0.001 | 0.1 | +0.099 |" in report
    for name in ("loss.png", "accuracy.png", "plots-confusion-csv.png"):
        assert (out_dir / "plots" / name).read_bytes().startswith(b"\x89PNG")
    assert (out_dir / "plots" / "plots-decision-png.base.png").exists()
    assert (out_dir / "plots" / "plots-decision-png.head.png").exists()
    metrics = [line for line in report.splitlines() if line.startswith("| metrics.json")]
    assert len(metrics) == 4


def test_a_demo_that_fails_says_where_its_project_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The diff fails (`--out` at a folder of the user's): the project built for it is not
    left behind unsaid."""
    out_dir = tmp_path / "mine"
    (out_dir / "notes.txt").parent.mkdir()
    (out_dir / "notes.txt").write_text("mine\n")
    code, out, err = run_cli(capsys, "demo", "--out", str(out_dir))
    assert code == 1
    assert err == (
        f"dvc-cml: error: {out_dir} is not empty and is not a dvc-cml report (notes.txt); "
        "dvc-cml only writes a report into a new or empty directory, or over its own earlier "
        "report\n"
    )
    last = out.splitlines()[-1]
    found = re.fullmatch(r"The example project stays in (\S+); remove it with: rm -rf (\S+)", last)
    assert found, out
    project, temp = Path(found.group(1)), Path(found.group(2))
    assert project.parent == temp and (project / "dvc.yaml").is_file()
    shutil.rmtree(temp)
    assert (out_dir / "notes.txt").read_text() == "mine\n"


def test_console_script_draws_in_a_worker_process(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh process (as in CI) draws charts in a forked worker; the result is the same."""
    import subprocess
    import sys

    # As if the suite ran inside a GitLab CI job: the run must not see it (it would post).
    monkeypatch.setenv("GITLAB_CI", "true")
    monkeypatch.setenv("CI_SERVER_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("DVC_CML_TOKEN", "glpat-not-for-tests")
    project = make_project("plots")
    project.apply_head()
    done = subprocess.run(
        [sys.executable, "-m", "dvc_cml", "diff", "main", "--json", "-C", str(project.root)],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),  # a GitLab CI job running the suite must not make this one post
    )
    assert (done.returncode, done.stderr) == (0, "")
    plots = {p["name"]: p for p in json.loads(done.stdout)["plots"]}
    for name in ("loss", "confusion", "curves/pr.json", "curves/unstable.csv"):
        assert Path(plots[name]["png"]).read_bytes().startswith(b"\x89PNG"), name
    assert plots["curves/unstable.csv"]["notes"] == [
        "6 NaN/Infinity point(s) left out of the chart."
    ]


# `dvc-cml` as installed (console()), with `main` replaced by what the case does.
CONSOLE = """
import sys
from pathlib import Path
from dvc_cml import cli
from dvc_cml.errors import error_boundary

class HalfBuilt:  # as a progress bar an interrupt left half-built
    def __del__(self):
        {finalizer}

def main():
    code = [0]
    with error_boundary(Path("dvc-cml.log"), code):
        kept = HalfBuilt()  # noqa: F841  (until the frame goes)
        {then}
    return code[0]

cli.main = main
cli.console()
"""


@pytest.mark.parametrize(
    ("finalizer", "then"),
    [
        # Ctrl-C landing in a finalizer: Python drops it there and the run goes on.
        ("raise KeyboardInterrupt", "pass"),
        # Ctrl-C said; a finalizer failing on the way out adds nothing after that line.
        ("self.postfix", "raise KeyboardInterrupt"),
    ],
    ids=["lost-in-a-finalizer", "finalizer-after-interrupt"],
)
def test_ctrl_c_is_one_line_and_exit_130_whatever_it_lands_in(
    finalizer: str, then: str, tmp_path: Path
) -> None:
    script = CONSOLE.format(finalizer=finalizer, then=then)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=clean_env(),
        cwd=tmp_path,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (130, "dvc-cml: interrupted\n")
