"""`dvc-cml demo`: build the bundled example project and diff it.

The example ships inside the package (`dvc_cml/example`, package data), so the demo works
from an installed wheel: a stdlib-only training script and a dvc.yaml with metrics, params,
two top-level line plots (one mapping `y` over two files), a confusion matrix and an image
plot.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from dvc_cml.errors import UserError
from dvc_cml.pipeline import init_project, reproduce
from dvc_cml.report import DiffOptions, Output, run_diff

EXAMPLE = Path(__file__).resolve().parent / "example"
# The "tuned" branch: what a data scientist might try in a merge request.
CHANGES = {"lr": "0.01", "l2": "0.1"}


def git(root: Path, *args: str) -> str:
    """Run git with a fixed identity, so the demo works on a machine with no git config."""
    cmd = [
        "git",
        "-c", "user.name=dvc-cml demo",
        "-c", "user.email=demo@dvc-cml.invalid",
        "-c", "commit.gpgsign=false",
        "-c", "init.defaultBranch=main",
        *args,
    ]  # fmt: skip
    try:
        done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=True)
    except FileNotFoundError:
        raise UserError("the demo needs the `git` command, which is not installed") from None
    except subprocess.CalledProcessError as exc:
        raise UserError(f"git {args[0]} failed: {exc.stderr.strip()}") from None
    return done.stdout


def set_params(params_file: Path, changes: Mapping[str, str]) -> None:
    text = params_file.read_text()
    for key, value in changes.items():
        text = re.sub(rf"(?m)^(\s+{re.escape(key)}:).*$", rf"\g<1> {value}", text)
    params_file.write_text(text)


def copy_example(root: Path) -> None:
    # Without the bytecode pip compiles at install time: not part of the example project.
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


def run_with_this_python(dvc_yaml: Path) -> None:
    """The example's stage says `python train.py`; the demo's copy names this interpreter.

    dvc-cml runs stages as `dvc repro` would, with the user's PATH, where `python` may be
    missing (only `python3`) or another one entirely.  The demo's own project needs nothing
    but the standard library, so the interpreter running dvc-cml always works for it.
    """
    command = f"{shlex.quote(sys.executable)} train.py"
    text = dvc_yaml.read_text()
    # A JSON string is a YAML double-quoted scalar: any path stays one value.
    dvc_yaml.write_text(text.replace("cmd: python train.py", f"cmd: {json.dumps(command)}"))


def build_example(root: Path) -> Path:
    """A git + DVC repo: a baseline commit on main, a tuned commit on branch `tune-lr`."""
    if not EXAMPLE.is_dir():
        raise UserError(f"the example project is missing from the installation ({EXAMPLE})")
    copy_example(root)
    run_with_this_python(root / "dvc.yaml")
    git(root, "init", "-q")
    init_project(root)
    reproduce(root, say=lambda _: None)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Baseline model")
    git(root, "checkout", "-q", "-b", "tune-lr")
    set_params(root / "params.yaml", CHANGES)
    reproduce(root, say=lambda _: None)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "Lower the learning rate, regularise more")
    return root


def run_demo(
    out_dir: Path, output: Output, open_page: bool = False, env: Mapping[str, str] | None = None
) -> int:
    temp = Path(tempfile.mkdtemp(prefix="dvc-cml-demo-"))
    root = temp / "example"
    # Progress goes where it does not mix with a --md or --json document.
    tell = sys.stdout if output == "terminal" else sys.stderr
    print(f"Building the example project in {root} (baseline on main, tuned on tune-lr)", file=tell)
    try:
        build_example(root)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)  # half-built: nothing worth keeping
        raise
    options = DiffOptions(
        path=root,
        base="main",
        head=None,
        out_dir=out_dir.absolute(),
        output=output,
        # Not the CI settings (a merge request's base SHA is not the demo's): only where the
        # cache is and whether a browser may be opened.
        env={key: (env or {})[key] for key in ("CI", "XDG_CACHE_HOME") if key in (env or {})},
        open_page=open_page,
    )
    try:
        return run_diff(options)
    finally:
        # Kept, also when the diff failed: a real git + DVC project to look into (`git log`,
        # `dvc-cml diff main`), and where to find it is said before any error line.
        remove = f"rm -rf {shlex.quote(str(temp))}"
        print(f"The example project stays in {root}; remove it with: {remove}", file=tell)
