"""`dvc-cml demo` from a built wheel, installed into a fresh venv, run outside the checkout.

Fast and offline by design: the wheel is built with `--no-deps --no-build-isolation` (this
venv's setuptools, from the test extra: an isolated build would download setuptools again),
installed with `--no-deps` into a venv made without pip, and that venv sees this venv's
site-packages through a .pth file for dvc, altair and the rest.  A .pth path line does not
run the .pth files inside the directory it adds, so this venv's editable dvc-cml stays out:
`dvc_cml` comes from the wheel, and the test checks that it does.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from tests.conftest import clean_env

ROOT = Path(__file__).resolve().parent.parent


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_the_wheel_ships_the_license(dvc_cml_wheel: Path) -> None:
    wheel = zipfile.ZipFile(dvc_cml_wheel)
    info = "dvc_cml-0.1.0.dist-info"
    assert wheel.read(f"{info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    metadata = wheel.read(f"{info}/METADATA").decode().splitlines()
    assert "License-Expression: Apache-2.0" in metadata
    assert "License-File: LICENSE" in metadata
    assert not [line for line in metadata if line.startswith("License:")]  # the old table form


def test_demo_runs_from_the_installed_wheel(dvc_cml_wheel: Path, tmp_path: Path) -> None:
    # Built once for the session from a copy (an in-tree build leaves build/ and egg-info).
    wheel = dvc_cml_wheel
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    names = zipfile.ZipFile(wheel).namelist()
    for rel in ("dvc.yaml", "params.yaml", "train.py"):
        assert f"dvc_cml/example/{rel}" in names
    assert not [n for n in names if n.startswith(("fixtures/", "tests/"))]

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    run(*pip, "--python", python, "install", "-q", "--no-deps", wheel, cwd=tmp_path)
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path)
    deps = sysconfig.get_path("purelib")
    (Path(site.strip()) / "test-dependencies.pth").write_text(deps + "\n")

    elsewhere = tmp_path / "elsewhere"  # not the checkout, not its parent
    elsewhere.mkdir()
    env = {k: v for k, v in clean_env().items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    where = run(python, "-c", "import dvc_cml; print(dvc_cml.__file__)", cwd=elsewhere, env=env)
    assert Path(where.strip()).is_relative_to(venv), where

    out = run(venv / "bin" / "dvc-cml", "demo", "--out", "report", cwd=elsewhere, env=env)
    assert "Building the example project" in out
    assert "test.accuracy" in out and "train.lr" in out
    report = elsewhere / "report"
    text = (report / "report.md").read_text()
    assert "| params.yaml | train.lr | 0.05 | 0.01 | -0.04 |" in text
    assert text.count("<sub>[Vega-Lite spec]") == 3  # loss, accuracy, confusion
    assert (report / "report.html").stat().st_size > 500_000  # the charts' JavaScript inlined
