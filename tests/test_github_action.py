"""The GitHub Action (action.yml) and the ready workflow: their structure and their commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from dvc_cml.cli import build_parser

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


def test_action_is_a_composite_with_args_and_token_inputs() -> None:
    action = load(ACTION)
    assert action["name"] == "dvc-cml"
    assert action["runs"]["using"] == "composite"
    inputs = action["inputs"]
    assert set(inputs) == {"args", "token", "packages", "python-version", "artifact-name"}
    assert inputs["token"]["default"] == "${{ github.token }}"
    assert inputs["args"]["default"] == ""
    assert all(spec["description"] for spec in inputs.values())


def test_action_installs_itself_and_runs_diff_with_the_token() -> None:
    setup, install, diff, upload = steps()
    assert setup["uses"] == "actions/setup-python@v5"
    assert setup["with"]["python-version"] == "${{ inputs.python-version }}"
    # The ref in `uses:` pins dvc-cml: it is installed from the action's own files.
    assert '"$GITHUB_ACTION_PATH" $DVC_CML_PACKAGES' in install["run"]
    assert install["env"] == {"DVC_CML_PACKAGES": "${{ inputs.packages }}"}
    assert diff["env"] == {
        "GITHUB_TOKEN": "${{ inputs.token }}",
        "DVC_CML_ARGS": "${{ inputs.args }}",
    }
    commands = [line for line in diff["run"].splitlines() if line.startswith("dvc-cml ")]
    assert commands == ["dvc-cml diff $DVC_CML_ARGS"]
    for given in ("", "--pull", "--pull --repro --id model-a", "--no-images-branch"):
        args = parse_diff(commands[0].replace("$DVC_CML_ARGS", given))
        assert args.post is None  # posting follows GitHub Actions' detection
    assert upload["uses"] == "actions/upload-artifact@v4"
    assert upload["if"] == "always() && inputs.artifact-name != ''"
    assert upload["with"]["path"] == "dvc-cml-report/"


def test_action_never_splices_inputs_into_scripts() -> None:
    """`${{ inputs.x }}` inside `run:` is a script injection; inputs go through `env:`."""
    for step in steps():
        if "run" in step:
            assert "${{" not in step["run"], step["name"]
            assert step["shell"] == "bash"
            assert step["run"].startswith("set -f\n")  # args split on spaces, never globbed


def test_workflow_runs_on_pull_requests_with_the_permissions_it_needs() -> None:
    workflow = load(WORKFLOW)
    assert set(workflow[True]) == {"pull_request"}  # YAML reads the key `on` as true
    assert workflow["permissions"] == {"contents": "write", "pull-requests": "write"}
    (job,) = workflow["jobs"].values()
    checkout, action = job["steps"]
    assert checkout["uses"] == "actions/checkout@v4"
    assert re.fullmatch(r"<owner>/dvc-cml@v\d+\.\d+\.\d+", action["uses"])
    args = parse_diff(f"dvc-cml diff {action['with']['args']}")
    assert args.pull is True
    assert set(action["with"]) <= set(load(ACTION)["inputs"])


def test_the_diff_step_runs_as_written(make_project: Any, tmp_path: Path) -> None:
    """The step's script in bash, as the runner runs it: args split on spaces, not globbed."""
    import os
    import subprocess
    import sys

    project = make_project("nested")
    project.apply_head()
    (project.root / "xa").write_text("")  # were `x*` globbed, it would be a valid --id
    diff = steps()[2]
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(tmp_path),
        "DVC_CML_ARGS": "main --md --no-post --id x*",
    }
    done = subprocess.run(
        ["bash", "-e", "-c", diff["run"]],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr  # `x*` reached dvc-cml as it is
    assert "argument --id: use 1-64 characters" in done.stderr
    env["DVC_CML_ARGS"] = "main --md --no-post"
    done = subprocess.run(
        ["bash", "-e", "-c", diff["run"]],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "| metrics.json | train.loss | 0.5 | 0.4 |" in done.stdout
