"""The GitLab CI template and the pre-commit hook: their structure and their commands."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dvc_cml.cli import DEFAULT_OUT, build_parser
from dvc_cml.publish.local import HTML_FILE
from tests.conftest import FakeGitLab, git
from tests.runners import GitLabCILocal, JobPython, gitlab_ci_local, job_log_lines, run
from tests.shapes import SHAPES, Built, build

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "templates" / "dvc-cml.gitlab-ci.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"

REPORT_DIR = DEFAULT_OUT + "/"  # dvc-cml's own default: one name everywhere
HOME = ".cache/dvc-cml"  # the install's folder in the job's directory
DVC_CML = f"{HOME}/venv/bin/dvc-cml"
DIFF = (
    f"{DVC_CML} diff $DVC_CML_RULE_ARGS --pull "
    f'--out "$PWD/{DEFAULT_OUT}" --metrics-report "$PWD/{DEFAULT_OUT}/metrics.txt"'
)
MR_RULE = '$CI_PIPELINE_SOURCE == "merge_request_event"'
DEFAULT_BRANCH_RULE = "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"


def template() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(TEMPLATE.read_text())
    return doc


def job() -> dict[str, Any]:
    hidden: dict[str, Any] = template()[".dvc-cml"]
    return hidden


def expand(line: str, variables: dict[str, str]) -> str:
    return re.sub(r"\$(\w+)|\$\{(\w+)\}", lambda m: variables[m.group(1) or m.group(2)], line)


def rule_variables() -> list[dict[str, str]]:
    """The job's variables as each rule leaves them (and the shell's $PWD)."""
    return [
        {**job()["variables"], **rule.get("variables", {}), "PWD": "/builds/grp/proj"}
        for rule in job()["rules"]
    ]


def install_lines() -> list[str]:
    """The script up to the run of dvc-cml: the install (bench/bench_install.py times it)."""
    script: list[str] = job()["script"]
    return script[: script.index(DIFF)]


def test_template_has_a_hidden_job_and_a_job_extending_it() -> None:
    doc = template()
    assert set(doc) == {".dvc-cml", "dvc-cml"}
    assert doc["dvc-cml"] == {"extends": ".dvc-cml"}


def test_template_runs_in_merge_requests_and_on_the_default_branch() -> None:
    rules = job()["rules"]
    assert [rule["if"] for rule in rules] == [MR_RULE, DEFAULT_BRANCH_RULE]
    assert "variables" not in rules[0]
    assert rules[1]["variables"] == {"DVC_CML_RULE_ARGS": "HEAD~1 --no-post"}


def test_template_script_installs_dvc_cml_apart_then_runs_it() -> None:
    """uv (from PyPI, with the image's pip, into a folder of its own) makes dvc-cml a venv in
    the job's git-ignored .cache/dvc-cml; nothing activates it or touches PATH, so the job's
    python, pip and packages stay as they were (and --repro runs stages with them)."""
    assert job()["script"][-1] == DIFF
    assert install_lines() == [
        "set -f",
        f"mkdir -p {HOME} && echo '*' > {HOME}/.gitignore",
        "PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check"
        f' --upgrade --cache-dir {HOME}/cache/pip --target {HOME}/uv "$DVC_CML_UV"',
        f"{HOME}/uv/bin/uv venv --quiet --clear --python python3 {HOME}/venv",
        f"{HOME}/uv/bin/uv pip install --cache-dir {HOME}/cache/uv"
        f" --python {HOME}/venv/bin/python $DVC_CML_INSTALL",
    ]
    for line in job()["script"]:
        assert "PATH" not in line and "activate" not in line and "export" not in line


def test_template_caches_uvs_downloads_between_pipelines() -> None:
    cache = job()["cache"]
    assert cache == {"key": "dvc-cml-uv", "paths": [f"{HOME}/cache/"], "when": "always"}
    # Every cache directory the install uses is under the cached path; the venv is not.
    used = {m for line in install_lines() for m in re.findall(r"--cache-dir (\S+)", line)}
    assert used == {f"{HOME}/cache/pip", f"{HOME}/cache/uv"}
    assert not any(f"{HOME}/venv".startswith(path) for path in cache["paths"])


def test_template_variables() -> None:
    variables = job()["variables"]
    assert variables == {
        "DVC_CML_IMAGE": "python:3.11",
        "DVC_CML_INSTALL": "dvc-cml",
        "DVC_CML_UV": "uv",
        "DVC_CML_ARGS": "",
        "DVC_CML_RULE_ARGS": "",
        "GIT_DEPTH": "20",
    }
    assert job()["image"] == "$DVC_CML_IMAGE"
    used = {name for line in job()["script"] for name in re.findall(r"\$\{?(\w+)", line)}
    # $PWD is the shell's; $DVC_CML_ARGS reaches dvc-cml through the environment.
    assert used == set(variables) - {"DVC_CML_IMAGE", "DVC_CML_ARGS", "GIT_DEPTH"} | {"PWD"}


def test_template_keeps_the_report_where_dvc_cml_writes_it() -> None:
    """One place for the report: dvc-cml-report/ at the top of the job's directory, whatever
    `-C` says (an absolute --out), where artifacts:paths, expose_as and reports:metrics look;
    the comment's link is computed from where the page is (tests/test_ci_env.py)."""
    artifacts = job()["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["expire_in"] == "2 weeks"
    # GitLab's widget links a file only when it is the one literal path (no glob, no $VAR);
    # it is the page the comment links to.
    assert artifacts["expose_as"] == "DVC report"
    assert artifacts["paths"] == [REPORT_DIR + HTML_FILE]
    assert not re.search(r"[*?\[$]", artifacts["paths"][0])
    args = shlex.split(DIFF)
    assert args[args.index("--out") + 1] == "$PWD/" + DEFAULT_OUT
    metrics_path = args[args.index("--metrics-report") + 1]
    assert metrics_path == f"$PWD/{artifacts['reports']['metrics']}"
    assert artifacts["reports"] == {"metrics": REPORT_DIR + "metrics.txt"}


def test_template_commands_parse_with_the_cli() -> None:
    expected: list[tuple[str | None, bool | None]] = [
        (None, None),  # merge request: the target branch, post
        ("HEAD~1", False),  # default branch: the previous commit, no post
    ]
    for variables, want in zip(rule_variables(), expected, strict=True):
        lines = [expand(line, variables) for line in job()["script"]]
        commands = [line for line in lines if line.startswith(f"{DVC_CML} ")]
        assert len(commands) == 1
        for line in commands:
            try:
                args = build_parser().parse_args(shlex.split(line)[1:])
            except SystemExit as exc:
                pytest.fail(f"`{line}` does not parse (exit {exc.code})")
            assert args.command == "diff"
            assert (args.base, args.post) == want
            assert args.pull is True
            assert args.out == f"/builds/grp/proj/{DEFAULT_OUT}"
            assert args.metrics_report == f"/builds/grp/proj/{DEFAULT_OUT}/metrics.txt"


def test_pre_commit_hook() -> None:
    hooks = yaml.safe_load(HOOKS.read_text())
    assert [hook["id"] for hook in hooks] == ["dvc-cml-check"]
    hook = hooks[0]
    assert hook["entry"] == "dvc-cml check"
    assert hook["language"] == "python"
    assert hook["stages"] == ["pre-push"]
    assert hook["pass_filenames"] is False
    assert hook["always_run"] is True
    assert hook["name"]
    assert hook["description"]


def test_pre_commit_hook_entry_parses_with_the_cli() -> None:
    hook = yaml.safe_load(HOOKS.read_text())[0]
    try:
        args = build_parser().parse_args(shlex.split(hook["entry"])[1:])
    except SystemExit as exc:
        pytest.fail(f"`{hook['entry']}` does not parse (exit {exc.code})")
    assert args.command == "check"


# --- the template on a real runner: gitlab-ci-local, shell executor --------------------------

TOKEN = "glpat-runner-Xy9z8w7v6u5t4s3r2q1p"
JOB = "dvc-cml"


@dataclass
class Pipelines:
    """One gitlab-ci-local and one fake GitLab for the module's pipelines."""

    runner: GitLabCILocal
    fake: FakeGitLab
    job_python: JobPython
    wheel: Path
    home: Path

    def run(self, repo: Path, *variables: str, extras: str = "") -> tuple[int, str]:
        """The pipeline of `repo`'s checkout, as GitLab would run it for `variables`; the
        job's exit status and gitlab-ci-local's output (the job's log)."""
        given = [
            # The install source: our wheel, not PyPI (and `extras` beside it).
            f"DVC_CML_INSTALL={self.wheel} {extras}".strip(),
            f"DVC_CML_TOKEN={TOKEN}",
            "CI_PROJECT_ID=42",
            *variables,
        ]
        done = subprocess.run(
            [
                *self.runner.command,
                "--force-shell-executor",  # the template names an image: run it here
                "--shell-isolation",  # each job in its own copy of the checkout, as a runner
                "--no-color",
                # A runner's own variables, set here as GitLab's runner would set them.
                "--ignore-predefined-vars",
                "CI_PROJECT_ID,GITLAB_CI,CI_PIPELINE_SOURCE",
                *(arg for v in given for arg in ("--variable", v)),
            ],
            cwd=repo,
            env=self.runner.env(self.job_python, self.home),
            capture_output=True,
            text=True,
            timeout=600,
        )
        return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def pipelines(
    tmp_path_factory: pytest.TempPathFactory, dvc_cml_wheel: Path, job_python: JobPython
) -> Iterator[Pipelines]:
    runner = gitlab_ci_local()
    if isinstance(runner, str):
        pytest.skip(runner)
    with FakeGitLab() as fake:
        fake.add_project(42, "grp/proj")
        fake.add_token(TOKEN, username="dvc-bot")
        home = tmp_path_factory.mktemp("home")  # gitlab-ci-local reads the user from git
        (home / ".gitconfig").write_text("[user]\n\tname = CI\n\temail = ci@dvc-cml.invalid\n")
        yield Pipelines(runner, fake, job_python, dvc_cml_wheel, home)
        assert not fake.errors, fake.errors


def ci_repo(shape_name: str, where: Path, fake: FakeGitLab, job: str = "") -> Built:
    """A shape's repository (base on main, head on `head`, outputs in a local DVC remote) that
    includes the template, with `job` (YAML) merged over its job, as a project would."""
    built = build(next(s for s in SHAPES if s.name == shape_name), where)
    root = built.root
    git(root, "checkout", "-q", "main")
    shutil.copy(TEMPLATE, root / "dvc-cml.gitlab-ci.yml")
    (root / ".gitlab-ci.yml").write_text(
        "include:\n  - local: dvc-cml.gitlab-ci.yml\n" + (f"\n{job}" if job else "")
    )
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "CI: dvc-cml")
    git(root, "checkout", "-q", "head")
    git(root, "rebase", "-q", "main")
    # Where gitlab-ci-local takes the server, project path and job URLs from.
    git(root, "remote", "add", "origin", f"{fake.url}/grp/proj.git")
    git(root, "update-ref", "refs/remotes/origin/main", "main")
    git(root, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    # A runner's checkout has no DVC cache and no outputs: `--pull` must bring them.
    shutil.rmtree(root / built.shape.project / ".dvc" / "cache", ignore_errors=True)
    return built


def merge_request(fake: FakeGitLab, root: Path, iid: int) -> list[str]:
    """The variables of a merge-request pipeline for `root`'s `head` into `main`."""
    head = git(root, "rev-parse", "head").strip()
    fake.add_mr(42, iid, source_branch="head", sha=head)
    return [
        "GITLAB_CI=true",  # GitLab's runner sets it; gitlab-ci-local does not
        "CI_PIPELINE_SOURCE=merge_request_event",
        f"CI_MERGE_REQUEST_IID={iid}",
        "CI_MERGE_REQUEST_PROJECT_ID=42",
        "CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main",
        f"CI_MERGE_REQUEST_DIFF_BASE_SHA={git(root, 'merge-base', 'main', 'head').strip()}",
        f"CI_MERGE_REQUEST_SOURCE_BRANCH_SHA={head}",
    ]


def artifacts(repo: Path) -> Path:
    """Where gitlab-ci-local keeps the job's artifacts (paths as in the job's directory)."""
    return repo / ".gitlab-ci-local" / "artifacts" / JOB


def metrics_file(repo: Path) -> str:
    """The file `artifacts:reports:metrics` names, in the job's directory."""
    path = job()["artifacts"]["reports"]["metrics"]
    return (repo / ".gitlab-ci-local" / "builds" / JOB / path).read_text()


def test_template_under_gitlab_ci_local_mr_then_default_branch(
    pipelines: Pipelines, tmp_path: Path
) -> None:
    built = ci_repo(
        "get-started",
        tmp_path / "gs",
        pipelines.fake,
        # Quotes in DVC_CML_ARGS reach dvc-cml's gate as written (a shell would keep them).
        job="dvc-cml:\n  variables:\n    DVC_CML_ARGS: \"--fail-on 'avg_prec.test<-0.5'\"\n",
    )
    root = built.root
    before = pipelines.job_python.freeze()

    # A merge request: head against main, posted as the MR's comment.
    code, log = pipelines.run(root, *merge_request(pipelines.fake, root, 7))
    assert code == 0, log
    assert "PASS  dvc-cml" in log
    lines = list(job_log_lines(log, JOB))
    assert "dvc-cml: created on merge request !7 of grp/proj: " in "\n".join(lines), log
    [note] = [n for n in pipelines.fake.notes(42, 7) if "<!-- dvc-cml:report -->" in n["body"]]
    body = note["body"]
    # DVC's own CLI on the full repository is the oracle for the numbers in the comment.
    test_prec = built.oracle.metrics["eval/metrics.json"]["avg_prec.test"]
    assert (test_prec["old"], test_prec["new"]) == (0.9, 0.88)
    assert "| eval/metrics.json | avg\\_prec.test | 0.9 | 0.88 | -0.02 ❌ |" in body
    assert "| avg\\_prec.test&lt;-0.5 | eval/metrics.json:avg\\_prec.test |" in body
    assert "dvc-cml: 1 of 1 gate passed." in lines
    # The comment links the page where the artifacts keep it.
    job_url = re.search(r"\]\((http://127\.0\.0\.1:\d+/grp/proj/-/jobs/\d+)\)", body)
    assert job_url, body
    page = f"{job_url.group(1)}/artifacts/file/dvc-cml-report/report.html"
    assert f"[Interactive report]({page})" in body
    kept = artifacts(root) / "dvc-cml-report"
    assert (kept / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in kept.iterdir()) == ["report.html"]
    # The metrics widget's file, where `reports: metrics` names it in the job's directory
    # (gitlab-ci-local keeps no report artifacts; GitLab's runner uploads it from there).
    assert 'dvc_avg_prec_test{file="eval/metrics.json"} 0.88' in metrics_file(root)
    # The charts were uploaded to the project and shown inline.
    assert len(re.findall(r"!\[[^\]]*\]\(/uploads/[0-9a-f]{32}/", body)) >= 4
    # dvc-cml ran from its own environment: the job's python gained nothing.
    assert pipelines.job_python.freeze() == before
    build_dir = root / ".gitlab-ci-local" / "builds" / JOB
    assert (build_dir / ".cache" / "dvc-cml" / "venv" / "bin" / "dvc-cml").exists()
    assert git(build_dir, "status", "--porcelain", "--ignored=no") == ""
    # uv's downloads are in the job's cache for the next pipeline.
    cache = root / ".gitlab-ci-local" / "cache" / "dvc-cml-uv" / ".cache" / "dvc-cml" / "cache"
    assert any((cache / "uv").glob("archive-v*/*/dvc_cml/__init__.py"))

    # The default branch after the merge: HEAD~1 against the merge, posted nowhere.
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--no-ff", "-m", "Merge head", "head")
    shutil.rmtree(artifacts(root))
    requests = len(pipelines.fake.requests)
    code, log = pipelines.run(root)
    assert code == 0, log
    assert "PASS  dvc-cml" in log
    assert len(pipelines.fake.requests) == requests  # --no-post: GitLab not even asked
    assert "dvc-cml: not posting" not in log
    assert (artifacts(root) / "dvc-cml-report" / "report.html").is_file()
    assert 'dvc_avg_prec_test{file="eval/metrics.json"} 0.88' in metrics_file(root)
    assert pipelines.job_python.freeze() == before


def test_template_with_dash_c_into_a_subfolder_project(
    pipelines: Pipelines, tmp_path: Path
) -> None:
    """A monorepo: the DVC project in proj/, `-C proj` in DVC_CML_ARGS.  The report, the
    metrics file and the comment's link are where the artifacts keep them."""
    built = ci_repo("subdir", tmp_path / "mono", pipelines.fake)
    root = built.root
    before = pipelines.job_python.freeze()
    code, log = pipelines.run(
        root,
        *merge_request(pipelines.fake, root, 8),
        "DVC_CML_ARGS=-C proj",
        extras="dvc[webdav]",  # DVC's extra for a remote, next to dvc-cml
    )
    assert code == 0, log
    # The extra went into dvc-cml's environment, where its DVC finds it; not the job's.
    python = root / ".gitlab-ci-local" / "builds" / JOB / ".cache" / "dvc-cml" / "venv" / "bin"
    webdav = (
        "from dvc.fs import get_cloud_fs; print(get_cloud_fs({}, url='webdav://h/p')[0].__name__)"
    )
    assert run(python / "python", "-c", webdav, cwd=root).strip() == "WebDAVFileSystem"
    assert pipelines.job_python.freeze() == before
    [note] = [n for n in pipelines.fake.notes(42, 8) if "<!-- dvc-cml:report -->" in n["body"]]
    kept = artifacts(root) / "dvc-cml-report"
    assert (kept / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert 'dvc_f1{file="out/metrics.json"} 0.8' in metrics_file(root)
    assert "/artifacts/file/dvc-cml-report/report.html)" in note["body"]
    loss = built.oracle.metrics["out/metrics.json"]["loss"]
    assert f"| out/metrics.json | loss | {loss['old']} | {loss['new']} |" in note["body"]
