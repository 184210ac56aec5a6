"""The GitLab CI template and the pre-commit hook: their structure and their commands."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from dvc_cml.cli import build_parser
from dvc_cml.publish.local import HTML_FILE

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "templates" / "dvc-cml.gitlab-ci.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"

REPORT_DIR = "dvc-cml-report/"
METRICS_REPORT = "dvc-cml-report/metrics.txt"
INSTALL = "pip install $DVC_CML_INSTALL"
DIFF = f"dvc-cml diff $DVC_CML_RULE_ARGS --pull --metrics-report {METRICS_REPORT} $DVC_CML_ARGS"
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
    """The job's variables as each rule leaves them."""
    return [{**job()["variables"], **rule.get("variables", {})} for rule in job()["rules"]]


def test_template_has_a_hidden_job_and_a_job_extending_it() -> None:
    doc = template()
    assert set(doc) == {".dvc-cml", "dvc-cml"}
    assert doc["dvc-cml"] == {"extends": ".dvc-cml"}


def test_template_runs_in_merge_requests_and_on_the_default_branch() -> None:
    rules = job()["rules"]
    assert [rule["if"] for rule in rules] == [MR_RULE, DEFAULT_BRANCH_RULE]
    assert "variables" not in rules[0]
    assert rules[1]["variables"] == {"DVC_CML_RULE_ARGS": "HEAD~1 --no-post"}


def test_template_script_is_the_documented_commands() -> None:
    assert job()["script"] == [INSTALL, DIFF]


def test_template_variables() -> None:
    variables = job()["variables"]
    assert variables == {
        "DVC_CML_IMAGE": "python:3.11",
        "DVC_CML_INSTALL": "dvc-cml",
        "DVC_CML_ARGS": "",
        "DVC_CML_RULE_ARGS": "",
        "GIT_DEPTH": "20",
    }
    assert job()["image"] == "$DVC_CML_IMAGE"
    used = {name for line in job()["script"] for name in re.findall(r"\$\{?(\w+)", line)}
    assert used <= set(variables)


def test_template_keeps_the_report_and_the_metrics_file() -> None:
    artifacts = job()["artifacts"]
    assert artifacts["when"] == "always"
    assert artifacts["expire_in"] == "2 weeks"
    # GitLab's widget links a file only when it is the one literal path (no glob, no $VAR);
    # it is the page the comment links to.
    assert artifacts["expose_as"] == "DVC report"
    assert artifacts["paths"] == [REPORT_DIR + HTML_FILE]
    assert not re.search(r"[*?\[$]", artifacts["paths"][0])
    args = shlex.split(job()["script"][1])
    metrics_path = args[args.index("--metrics-report") + 1]
    assert artifacts["reports"] == {"metrics": metrics_path}
    assert metrics_path.startswith(REPORT_DIR)


def test_template_commands_parse_with_the_cli() -> None:
    expected: list[tuple[str | None, bool | None]] = [
        (None, None),  # merge request: the target branch, post
        ("HEAD~1", False),  # default branch: the previous commit, no post
    ]
    for variables, want in zip(rule_variables(), expected, strict=True):
        lines = [expand(line, variables) for line in job()["script"]]
        commands = [line for line in lines if line.startswith("dvc-cml ")]
        assert len(commands) == 1
        for line in commands:
            try:
                args = build_parser().parse_args(shlex.split(line)[1:])
            except SystemExit as exc:
                pytest.fail(f"`{line}` does not parse (exit {exc.code})")
            assert args.command == "diff"
            assert (args.base, args.post) == want
            assert args.pull is True
            assert args.metrics_report == METRICS_REPORT


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
