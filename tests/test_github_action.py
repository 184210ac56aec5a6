"""The GitHub Action (action.yml) and the ready workflow: their structure and their commands."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from dvc_cml.cli import build_parser
from tests.conftest import FakeGitHub, clean_env, git
from tests.runners import ActionRunner, CacheService, JobPython, copy_source, run
from tests.shapes import SHAPES, Built, build

ROOT = Path(__file__).resolve().parent.parent
ACTION = ROOT / "action.yml"
WORKFLOW = ROOT / "templates" / "dvc-cml.github-workflow.yml"


def load(path: Path) -> dict[Any, Any]:
    doc: dict[Any, Any] = yaml.safe_load(path.read_text())
    return doc


def steps() -> list[dict[str, Any]]:
    return list(load(ACTION)["runs"]["steps"])


def parse_diff(line: str) -> Any:
    try:
        args = build_parser().parse_args(shlex.split(line)[1:])
    except SystemExit as exc:
        pytest.fail(f"`{line}` does not parse (exit {exc.code})")
    assert args.command == "diff"
    return args


CACHE = "27d5ce7f107fe9357f9df03efb73ab90386fccae"  # actions/cache v5.0.5
UPLOAD = "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f"  # actions/upload-artifact v7.0.0
CHECKOUT = "3d3c42e5aac5ba805825da76410c181273ba90b1"  # actions/checkout v7.0.1


def by_id(name: str) -> dict[str, Any]:
    [step] = [s for s in steps() if s.get("id") == name or s.get("name") == name]
    return step


def test_action_is_a_composite_with_args_and_token_inputs() -> None:
    action = load(ACTION)
    assert action["name"] == "dvc-cml"
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    assert set(inputs) == {"args", "token", "packages", "python-version", "artifact-name"}
    assert inputs["token"]["default"] == "${{ github.token }}"
    assert inputs["args"]["default"] == ""
    assert inputs["python-version"]["default"] == ">=3.10"
    assert all(spec["description"] for spec in inputs.values())
    assert action["outputs"]["report-dir"]["value"] == "${{ steps.setup.outputs.report-dir }}"


def test_third_party_actions_are_pinned_by_commit_with_the_version_beside() -> None:
    pinned = {
        "actions/cache/restore": (CACHE, "v5.0.5"),
        "actions/cache/save": (CACHE, "v5.0.5"),
        "actions/upload-artifact": (UPLOAD, "v7.0.0"),
        "actions/checkout": (CHECKOUT, "v7.0.1"),
    }
    for path in (ACTION, WORKFLOW):
        for line in path.read_text().splitlines():
            found = re.search(r"\buses: (\S+)@(\S+)(.*)", line)
            if not found or found.group(1).startswith("<owner>/"):
                continue
            name, ref, rest = found.groups()
            assert (ref, rest.strip()) == (pinned[name][0], f"# {pinned[name][1]}"), line


def test_action_installs_itself_apart_and_runs_diff_with_the_token() -> None:
    install = by_id("install")
    # The ref in `uses:` pins dvc-cml: it is installed from the action's own files, with the
    # packages input, into a venv under $RUNNER_TEMP that nothing puts on PATH.
    assert '"$GITHUB_ACTION_PATH" $DVC_CML_PACKAGES' in install["run"]
    assert '--python "$DVC_CML_HOME/venv/bin/python"' in install["run"]
    assert install["env"]["DVC_CML_PACKAGES"] == "${{ inputs.packages }}"
    assert "setup-python" not in ACTION.read_text()
    for step in steps():
        assert "GITHUB_PATH" not in step.get("run", "") and "GITHUB_ENV" not in step.get("run", "")
    diff = by_id("diff")
    assert diff["env"] == {
        "GITHUB_TOKEN": "${{ inputs.token }}",
        "DVC_CML_ARGS": "${{ inputs.args }}",
        "DVC_CML_HOME": "${{ steps.setup.outputs.home }}",
        "DVC_CML_REPORT_DIR": "${{ steps.setup.outputs.report-dir }}",
    }
    commands = [line for line in diff["run"].splitlines() if "dvc-cml" in line]
    assert commands == ['"$DVC_CML_HOME/venv/bin/dvc-cml" diff --out "$DVC_CML_REPORT_DIR"']
    args = parse_diff("dvc-cml diff --out /work/dvc-cml-report")
    assert args.post is None  # posting follows GitHub Actions' detection
    # The report's one place: the setup step's output, for dvc-cml and the upload alike.
    upload = by_id("Upload the report")
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["if"] == "always() && inputs.artifact-name != ''"
    assert upload["with"]["path"] == "${{ steps.setup.outputs.report-dir }}"
    assert upload["with"]["if-no-files-found"] == "warn"
    assert 'report-dir=$GITHUB_WORKSPACE/dvc-cml-report"' in by_id("setup")["run"]


def test_action_caches_uvs_downloads() -> None:
    restore, save = by_id("restore"), by_id("Save dvc-cml's install cache")
    assert (
        restore["with"]["path"] == save["with"]["path"] == "${{ steps.setup.outputs.home }}/cache"
    )
    assert restore["with"]["key"] == save["with"]["key"] == "${{ steps.setup.outputs.cache-key }}"
    assert save["if"] == (
        "steps.install.outcome == 'success' && steps.restore.outputs.cache-hit != 'true'"
    )
    install = by_id("install")["run"]
    assert install.count('--cache-dir "$DVC_CML_HOME/cache/') == 3  # pip's, and uv's twice


def test_action_never_splices_inputs_into_scripts() -> None:
    """`${{ inputs.x }}` inside `run:` is a script injection; inputs go through `env:`."""
    for step in steps():
        if "run" in step:
            assert "${{" not in step["run"], step["name"]
            assert step["shell"] == "bash"
            assert step["run"].startswith("set -f\n")  # $DVC_CML_PACKAGES is never globbed


def test_workflow_runs_on_pull_requests_with_the_permissions_it_needs() -> None:
    workflow = load(WORKFLOW)
    assert set(workflow[True]) == {"pull_request"}  # YAML reads the key `on` as true
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write"}
    (job,) = workflow["jobs"].values()
    checkout, action = job["steps"]
    assert checkout["uses"] == f"actions/checkout@{CHECKOUT}"
    assert re.fullmatch(r"<owner>/dvc-cml@v\d+\.\d+\.\d+", action["uses"])
    args = parse_diff(f"dvc-cml diff {action['with']['args']}")
    assert args.pull is True
    assert set(action["with"]) <= set(load(ACTION)["inputs"])


def test_the_diff_step_passes_args_as_written(make_project: Any, tmp_path: Path) -> None:
    """The step's script in bash, as the runner runs it: `args` reach dvc-cml split as a
    shell would, quotes removed and nothing globbed."""
    import subprocess
    import sys

    project = make_project("nested")
    project.apply_head()
    (project.root / "xa").write_text("")  # were `x*` globbed, it would be a valid --id
    home = tmp_path / "home"
    (home / "venv" / "bin").mkdir(parents=True)
    (home / "venv" / "bin" / "dvc-cml").symlink_to(Path(sys.executable).parent / "dvc-cml")
    env = clean_env(
        HOME=str(tmp_path),
        DVC_CML_HOME=str(home),
        DVC_CML_REPORT_DIR=str(tmp_path / "report"),
        DVC_CML_ARGS="main --md --no-post --id x*",
    )

    def diff_step() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", by_id("diff")["run"]],
            cwd=project.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    done = diff_step()
    assert done.returncode == 2, done.stderr  # `x*` reached dvc-cml as it is
    assert "argument --id: use 1-64 characters" in done.stderr
    env["DVC_CML_ARGS"] = "main --md --no-post --fail-on 'test.auc<-0.05'"
    done = diff_step()
    assert done.returncode == 0, done.stderr
    assert "| metrics.json | train.loss | 0.5 | 0.4 |" in done.stdout
    assert (tmp_path / "report" / "report.html").is_file()


# --- action.yml run as a runner would: its steps, inputs, GITHUB_* files and event ------------

TOKEN = "ghs_ActionsToken0123456789abcdefXYZ"  # the job's GITHUB_TOKEN (an app token)
REPO = "octo-org/mono"


@dataclass
class Job:
    """One pull-request job: the checkout, the runner's environment, the action."""

    workspace: Path
    runner: ActionRunner
    cache: CacheService
    uploads: list[dict[str, str]]
    built: Built

    def files(self, name: str) -> Path:
        return Path(self.runner.env[name])


@pytest.fixture
def job(fake_github: FakeGitHub, job_python: JobPython, tmp_path: Path) -> Job:
    built = build(next(s for s in SHAPES if s.name == "subdir"), tmp_path / "mono")
    # actions/checkout: the pull request's head, no DVC cache, no outputs on disk.
    workspace = tmp_path / "work" / "mono"
    git(tmp_path, "clone", "-q", "--branch", "head", f"file://{built.root}", str(workspace))
    head, base = (git(built.root, "rev-parse", b).strip() for b in ("head", "main"))
    fake_github.add_repo(REPO)
    fake_github.add_pull(REPO, 7, head_ref="head", head_sha=head, base_sha=base)
    fake_github.add_token(TOKEN, app=True)
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "number": 7,
                "pull_request": {
                    "number": 7,
                    "head": {"ref": "head", "sha": head, "label": "octo-org:head",
                             "repo": {"full_name": REPO}},
                    "base": {"ref": "main", "sha": base, "repo": {"full_name": REPO}},
                },
                "repository": {"full_name": REPO, "default_branch": "main"},
            }
        )
    )  # fmt: skip
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    for name in ("summary.md", "env", "path"):
        (tmp_path / name).touch()
    env = clean_env(
        PATH=os.pathsep.join([str(job_python.bin), os.environ["PATH"]]),
        HOME=str(tmp_path / "home"),
        CI="true",
        GITHUB_ACTIONS="true",
        GITHUB_API_URL=fake_github.api_url,
        GITHUB_SERVER_URL=fake_github.url,
        GITHUB_REPOSITORY=REPO,
        GITHUB_EVENT_NAME="pull_request",
        GITHUB_EVENT_PATH=str(event),
        GITHUB_SHA="e" * 40,  # the merge commit GitHub made
        GITHUB_REF="refs/pull/7/merge",
        GITHUB_BASE_REF="main",
        GITHUB_HEAD_REF="head",
        GITHUB_RUN_ID="555",
        GITHUB_RUN_ATTEMPT="1",
        GITHUB_JOB="report",
        GITHUB_WORKSPACE=str(workspace),
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
        GITHUB_ENV=str(tmp_path / "env"),
        GITHUB_PATH=str(tmp_path / "path"),
        RUNNER_TEMP=str(runner_temp),
        RUNNER_OS="Linux",
        RUNNER_ARCH="X64",
    )
    contexts = {
        "github": {"token": TOKEN, "workspace": str(workspace)},
        "runner": {"os": "Linux", "arch": "X64", "temp": str(runner_temp)},
    }
    # The action's files as the runner downloads them for `uses: owner/dvc-cml@ref`.
    action_dir = copy_source(tmp_path / "_actions" / "dvc-cml")
    cache = CacheService(CACHE_STORE)
    uploads: list[dict[str, str]] = []

    def upload(with_: dict[str, str]) -> dict[str, str]:
        uploads.append(with_)
        return {"artifact-id": str(len(uploads))}

    uses = {
        "actions/cache/restore": cache.restore,
        "actions/cache/save": cache.save,
        "actions/upload-artifact": upload,
    }
    return Job(workspace, ActionRunner(action_dir, env, contexts, uses), cache, uploads, built)


# GitHub's cache storage for the session: a later run (or test) restores what one saved.
CACHE_STORE = Path(tempfile.mkdtemp(prefix="dvc-cml-actions-cache-"))


def test_action_steps_as_a_runner_runs_them(
    job: Job, fake_github: FakeGitHub, job_python: JobPython
) -> None:
    before = job_python.freeze()
    inputs = {
        # -C into the monorepo's project, and a quoted gate that reaches dvc-cml as written.
        "args": "-C proj --pull --fail-on 'f1<-0.1'",
        "packages": "dvc[webdav]",  # DVC's extra for a remote, into dvc-cml's environment
    }
    steps = job.runner.run(inputs)
    failed = {k: (s.stdout, s.stderr) for k, s in steps.items() if s.outcome == "failure"}
    assert not failed, failed
    assert [k for k, s in steps.items() if s.ran] == [
        "setup", "restore", "install", "__3", "diff", "__5",
    ]  # fmt: skip
    setup = steps["setup"].outputs
    report_dir = job.workspace / "dvc-cml-report"  # the top of the workspace, also with -C
    assert setup["report-dir"] == str(report_dir)

    # The upload is given the directory dvc-cml wrote, with the whole report in it.
    [upload] = job.uploads
    assert upload == {
        "name": "dvc-cml-report",
        "path": str(report_dir),
        "if-no-files-found": "warn",
    }
    assert (report_dir / "report.md").is_file()
    assert (report_dir / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert (report_dir / "plots" / "loss.png").read_bytes().startswith(b"\x89PNG")
    assert not (job.workspace / "proj" / "dvc-cml-report").exists()

    # The comment, the summary and the gate, with the numbers DVC's own CLI gives.
    loss = job.built.oracle.metrics["out/metrics.json"]["loss"]
    row = f"| out/metrics.json | loss | {loss['old']} | {loss['new']} |"
    [comment] = [c for c in fake_github.comments(REPO, 7) if "<!-- dvc-cml:report" in c["body"]]
    assert row in comment["body"]
    summary = job.files("GITHUB_STEP_SUMMARY").read_text()
    assert row in summary
    assert "dvc-cml: 1 of 1 gate passed." in steps["diff"].stderr.splitlines()

    # Isolated: the job's python gained nothing, and no later step sees a new PATH or variable.
    assert job_python.freeze() == before
    assert job.files("GITHUB_PATH").read_text() == job.files("GITHUB_ENV").read_text() == ""
    home = Path(setup["home"])
    assert home.is_relative_to(job.runner.env["RUNNER_TEMP"])
    # The extra reached dvc-cml's DVC: it finds the remote's filesystem.
    webdav = (
        "from dvc.fs import get_cloud_fs; print(get_cloud_fs({}, url='webdav://h/p')[0].__name__)"
    )
    venv_python = home / "venv" / "bin" / "python"
    assert run(venv_python, "-c", webdav, cwd=job.workspace).strip() == "WebDAVFileSystem"

    # uv's downloads were saved under the step's key; a second run restores them and needs
    # no index for them (UV_OFFLINE), and saves nothing new.
    assert job.cache.saved == [setup["cache-key"]]
    runner_temp = Path(job.runner.env["RUNNER_TEMP"])  # a new job starts with an empty one
    shutil.rmtree(runner_temp)
    runner_temp.mkdir()
    job.runner.env["UV_OFFLINE"] = "1"
    again = job.runner.run({**inputs, "artifact-name": ""})
    failed = {k: (s.stdout, s.stderr) for k, s in again.items() if s.outcome == "failure"}
    assert not failed, failed
    assert again["restore"].outputs["cache-hit"] == "true"
    assert not again["__3"].ran and not again["__5"].ran  # no save, no upload
    assert job.cache.saved == [setup["cache-key"]]
    assert job_python.freeze() == before
