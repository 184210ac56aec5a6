"""The CI templates on real runners: what the tests of both need, built once per session.

- `dvc_cml_wheel`: our wheel, built once, what the GitLab template installs in the tests
  (its DVC_CML_INSTALL; the Action installs from its own files, as on GitHub).
- `job_python`: the job's own Python, a venv with pip standing in for the job image's
  `python3` (first on PATH in the jobs): the templates use its pip only to fetch uv into a
  folder of their own, and the tests check that nothing was installed into it.
- `gitlab_ci_local()`: the runner for the GitLab template, gitlab-ci-local from the npm
  registry with Node 22 (`.ci/run` installs both into ~/.cache/dvc-cml-ci/npm, or
  $DVC_CML_CI_TOOLS/npm) and rsync; the reason to skip when they cannot be had.

Installs reach the package index (uv and dvc-cml's dependencies, from PyPI), as the templates
do; everything else stays on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import clean_env

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path(os.environ.get("DVC_CML_CI_TOOLS") or Path.home() / ".cache" / "dvc-cml-ci")
NODE_MAJOR = 22  # gitlab-ci-local 4.75 needs Node >= 22
# What a checkout of this repository holds that an install from source needs.
SOURCE_FILES = ("pyproject.toml", "README.md", "LICENSE", "action.yml")


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def copy_source(dest: Path) -> Path:
    """This repository's files as a runner fetches them (no tests, no build leftovers)."""
    dest.mkdir(parents=True)
    for name in SOURCE_FILES:
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, dest)
    shutil.copytree(
        ROOT / "dvc_cml", dest / "dvc_cml", ignore=shutil.ignore_patterns("__pycache__")
    )
    return dest


def build_wheel(where: Path) -> Path:
    """Our wheel, built offline from a copy (`--no-build-isolation`: this venv's setuptools)."""
    source = copy_source(where / "source")
    dist = where / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    run(*pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", dist, ".", cwd=source)
    [wheel] = dist.glob("dvc_cml-*.whl")
    return wheel


@pytest.fixture(scope="session")
def dvc_cml_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@dataclass(frozen=True)
class JobPython:
    """The job's own Python: `bin` goes first on the job's PATH."""

    bin: Path

    @property
    def python(self) -> Path:
        return self.bin / "python3"

    def freeze(self) -> list[str]:
        """Every package installed in it, pip included."""
        env = clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1")
        return run(self.python, "-m", "pip", "freeze", "--all", cwd=self.bin, env=env).split()


@pytest.fixture(scope="session")
def job_python(tmp_path_factory: pytest.TempPathFactory) -> JobPython:
    venv = tmp_path_factory.mktemp("job-python") / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=venv.parent)
    return JobPython(venv / "bin")


@dataclass(frozen=True)
class GitLabCILocal:
    command: tuple[str, ...]
    path: str  # PATH for it: its own Node first

    def env(self, job_python: JobPython, home: Path) -> dict[str, str]:
        """The runner's environment, which its shell-executor jobs inherit: the job's python
        first on PATH, no CI variables of the machine running the tests."""
        return clean_env(PATH=os.pathsep.join([str(job_python.bin), self.path]), HOME=str(home))


def _node_major(node: str) -> int:
    found = re.match(r"v(\d+)\.", run(node, "--version", cwd=Path.cwd()))
    return int(found.group(1)) if found else 0


def gitlab_ci_local() -> GitLabCILocal | str:
    """gitlab-ci-local with a Node it can run on, or why the tests cannot have it."""
    if shutil.which("rsync") is None:
        return "no rsync (Debian's `rsync` package), which gitlab-ci-local's shell executor uses"
    installed = TOOLS / "npm" / "node_modules" / ".bin"
    path = os.environ.get("PATH", "")
    if (installed / "gitlab-ci-local").exists():
        path = os.pathsep.join([str(installed), path])
    program = shutil.which("gitlab-ci-local", path=path)
    node = shutil.which("node", path=path)
    if program is None or node is None:
        return (
            f"gitlab-ci-local is not installed (bash .ci/run installs it and Node {NODE_MAJOR} "
            f"from the npm registry into {TOOLS / 'npm'})"
        )
    if (major := _node_major(node)) < NODE_MAJOR:
        return f"gitlab-ci-local needs Node >= {NODE_MAJOR}; {node} is Node {major}"
    return GitLabCILocal((node, str(Path(program).resolve())), path)


def job_log_lines(output: str, job: str) -> Iterator[str]:
    """The lines a job printed, from gitlab-ci-local's output (`JOB > line`)."""
    prefix = re.compile(rf"^{re.escape(job)}\s+> ?")
    for line in output.splitlines():
        if prefix.match(line):
            yield prefix.sub("", line, count=1)


# --- action.yml's steps, run as GitHub's runner runs a composite action ----------------------

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
TOKENS = re.compile(r"\s*(?:(\|\||&&|==|!=|!|\(|\))|'((?:[^']|'')*)'|([A-Za-z_][\w.-]*))")


class Expression:
    """GitHub's expression syntax, as much of it as action.yml uses: context paths
    (`inputs.x`, `steps.id.outputs.y`, `runner.os`, `github.token`), 'strings', `==`, `!=`
    (strings compare ignoring case), `!`, `&&`, `||` (returning an operand, as GitHub does),
    parentheses and `always()`, `success()`, `failure()`.  Anything else fails the test: an
    action.yml this cannot read is not run half-understood."""

    def __init__(self, text: str, contexts: dict[str, Any], status: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        while pos < len(text.rstrip()):
            found = TOKENS.match(text, pos)
            assert found and found.end() > pos, f"cannot read {text!r} at {text[pos:]!r}"
            op, string, name = found.groups()
            self.tokens.append(
                ("op", op)
                if op
                else ("str", string.replace("''", "'"))
                if string is not None
                else ("name", name)
            )
            pos = found.end()
        self.contexts, self.status = contexts, status

    def value(self) -> Any:
        result = self._or()
        assert not self.tokens, f"unread: {self.tokens}"
        return result

    def _take(self, op: str) -> bool:
        if self.tokens and self.tokens[0] == ("op", op):
            self.tokens.pop(0)
            return True
        return False

    def _or(self) -> Any:
        left = self._and()
        while self._take("||"):
            right = self._and()
            left = left or right
        return left

    def _and(self) -> Any:
        left = self._cmp()
        while self._take("&&"):
            right = self._cmp()
            left = left and right
        return left

    def _cmp(self) -> Any:
        left = self._unary()
        for op in ("==", "!="):
            if self._take(op):
                right = self._unary()
                same = str(left).lower() == str(right).lower()
                return same if op == "==" else not same
        return left

    def _unary(self) -> Any:
        if self._take("!"):
            return not self._unary()
        if self._take("("):
            inner = self._or()
            assert self._take(")"), "unbalanced parentheses"
            return inner
        kind, text = self.tokens.pop(0)
        if kind == "str":
            return text
        assert kind == "name", f"unexpected {text!r}"
        if text in ("always", "success", "failure"):
            assert self._take("(") and self._take(")")
            return {"always": True, "success": self.status == "success"}.get(
                text, self.status == "failure"
            )
        value: Any = self.contexts
        for part in text.split("."):
            assert isinstance(value, dict) and part in value, f"unknown context {text!r}"
            value = value[part]
        return value


def evaluate(text: str, contexts: dict[str, Any], status: str = "success") -> str:
    """A value with `${{ }}` expressions in it, as a string."""

    def one(found: re.Match[str]) -> str:
        value = Expression(found.group(1), contexts, status).value()
        return "true" if value is True else "false" if value is False else str(value)

    return EXPRESSION.sub(one, text)


def condition(text: str | None, contexts: dict[str, Any], status: str) -> bool:
    """A step's `if:` (without `${{ }}` or with); none means `success()`."""
    found = EXPRESSION.fullmatch(text.strip()) if text else None
    expression = found.group(1) if found else text or "success()"
    return bool(Expression(expression, contexts, status).value())


@dataclass
class StepResult:
    name: str
    ran: bool
    outcome: str  # success, failure, skipped
    outputs: dict[str, str]
    stdout: str = ""
    stderr: str = ""
    with_: dict[str, str] | None = None  # a `uses:` step's evaluated inputs


def parse_env_file(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT / GITHUB_ENV: `name=value` lines and `name<<DELIMITER` blocks."""
    values: dict[str, str] = {}
    lines = iter(path.read_text().splitlines()) if path.exists() else iter(())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for more in lines:
                if more == delimiter:
                    break
                block.append(more)
            values[name] = "\n".join(block)
        elif line:
            name, value = line.split("=", 1)
            values[name] = value
    return values


class ActionRunner:
    """Runs a composite action.yml the way GitHub's runner does, in order: `if:` evaluated
    against the earlier steps' outcomes, `env:` and `with:` expressions filled in, each `run:`
    script in `bash --noprofile --norc -eo pipefail` with the runner's variables and its own
    GITHUB_OUTPUT file (read back as the step's outputs).  A `uses:` step is handed to the
    function registered for its action (without the @ref); one without is a failure."""

    def __init__(
        self,
        action_dir: Path,
        env: dict[str, str],
        contexts: dict[str, Any],
        uses: dict[str, Any],
    ) -> None:
        self.action_dir = action_dir
        self.spec = yaml_load(action_dir / "action.yml")
        self.env = env  # the runner's environment: GITHUB_*, RUNNER_*, PATH, HOME
        self.contexts = contexts  # github, runner (inputs and steps are added per run)
        self.uses = uses

    def run(self, inputs: dict[str, str]) -> dict[str, StepResult]:
        declared = self.spec["inputs"]
        assert set(inputs) <= set(declared), f"unknown inputs {set(inputs) - set(declared)}"
        contexts = {**self.contexts, "steps": {}}
        contexts["inputs"] = {
            name: inputs[name] if name in inputs else evaluate(str(spec["default"]), contexts)
            for name, spec in declared.items()
        }
        results: dict[str, StepResult] = {}
        status = "success"
        for number, step in enumerate(self.spec["runs"]["steps"]):
            step_id = step.get("id", f"__{number}")
            if not condition(step.get("if"), contexts, status):
                result = StepResult(step.get("name", step_id), False, "skipped", {})
            elif "run" in step:
                result = self._run(step, contexts)
            else:
                action = step["uses"].split("@")[0]
                assert action in self.uses, f"no stand-in for {step['uses']}"
                with_ = {k: evaluate(str(v), contexts) for k, v in step.get("with", {}).items()}
                outputs = self.uses[action](with_)
                result = StepResult(step.get("name", action), True, "success", outputs, with_=with_)
            results[step_id] = result
            contexts["steps"][step_id] = {
                "outputs": result.outputs,
                "outcome": result.outcome,
                "conclusion": result.outcome,
            }
            if result.outcome == "failure":
                status = "failure"
        return results

    def _run(self, step: dict[str, Any], contexts: dict[str, Any]) -> StepResult:
        assert step["shell"] == "bash"
        work = Path(self.env["RUNNER_TEMP"]) / f"step-{time.monotonic_ns()}"
        work.mkdir(parents=True)
        script, output = work / "script.sh", work / "output"
        script.write_text(step["run"])
        env = {
            **self.env,
            **{k: evaluate(str(v), contexts) for k, v in step.get("env", {}).items()},
            "GITHUB_ACTION_PATH": str(self.action_dir),
            "GITHUB_OUTPUT": str(output),
        }
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=self.env["GITHUB_WORKSPACE"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        outcome = "success" if done.returncode == 0 else "failure"
        outputs = parse_env_file(output)
        return StepResult(step["name"], True, outcome, outputs, done.stdout, done.stderr)


def yaml_load(path: Path) -> dict[str, Any]:
    import yaml

    doc: dict[str, Any] = yaml.safe_load(path.read_text())
    return doc


class CacheService:
    """actions/cache/restore and actions/cache/save, with a folder for GitHub's cache
    storage: an exact key, else the newest entry starting with a restore key; a key is saved
    once (GitHub refuses to overwrite one)."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.saved: list[str] = []

    def _entry(self, key: str) -> Path:
        return self.store / re.sub(r"[^A-Za-z0-9._-]", "_", key)

    def restore(self, with_: dict[str, str]) -> dict[str, str]:
        key, path = with_["key"], Path(with_["path"])
        keys = [key, *filter(None, with_.get("restore-keys", "").splitlines())]
        entries = sorted(self.store.glob("*"), key=lambda p: p.stat().st_mtime, reverse=True)
        for wanted in keys:
            exact = wanted == key
            for entry in entries:
                if entry.name == self._entry(wanted).name or (
                    not exact and entry.name.startswith(self._entry(wanted).name)
                ):
                    shutil.rmtree(path, ignore_errors=True)
                    shutil.copytree(entry, path, symlinks=True)
                    return {"cache-hit": str(exact).lower(), "cache-matched-key": entry.name}
        return {"cache-hit": "false"}

    def save(self, with_: dict[str, str]) -> dict[str, str]:
        entry = self._entry(with_["key"])
        if not entry.exists():
            shutil.copytree(with_["path"], entry, symlinks=True)
            self.saved.append(with_["key"])
        return {}
