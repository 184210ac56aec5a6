"""`dvc-cml demo` from a built wheel, installed into a fresh venv, run outside the checkout.

Fast and offline by design: the wheel is built with `--no-deps --no-build-isolation` (this
venv's setuptools, from the test extra: an isolated build would download setuptools again),
installed with `--no-deps` into a venv made without pip, and that venv sees this venv's
site-packages through a .pth file for dvc, altair and the rest.  A .pth path line does not
run the .pth files inside the directory it adds, so this venv's editable dvc-cml stays out:
`dvc_cml` comes from the wheel, and the test checks that it does.
"""

from __future__ import annotations

import re
import shutil
import sys
import sysconfig
import zipfile
from pathlib import Path

from tests.conftest import clean_env
from tests.runners import run

ROOT = Path(__file__).resolve().parent.parent


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
    lines = out.splitlines()
    first = re.fullmatch(
        r"Building the example project in (\S+) \(baseline on main, tuned on tune-lr\)", lines[0]
    )
    last = re.fullmatch(
        r"The example project stays in (\S+); remove it with: rm -rf (\S+)", lines[-1]
    )
    assert first and last, out
    project, temp = Path(last.group(1)), Path(last.group(2))
    assert first.group(1) == str(project) and project.parent == temp
    # The example's own script, from the wheel, ran there: its outputs are the demo's.
    assert (project / "train.py").read_bytes() == (ROOT / "dvc_cml/example/train.py").read_bytes()
    shutil.rmtree(temp)
    assert f"Interactive report: {elsewhere / 'report' / 'report.html'}" in lines
    report = elsewhere / "report"
    text = (report / "report.md").read_text()
    assert "| params.yaml | train.lr | 0.05 | 0.01 | -0.04 |" in text
    assert "| params.yaml | train.l2 | 0.001 | 0.1 | +0.099 |" in text
    charts = ["accuracy", "loss", "plots-confusion-csv"]
    images = ["plots-decision-png.base.png", "plots-decision-png.head.png"]
    assert sorted(p.relative_to(report).as_posix() for p in report.rglob("*") if p.is_file()) == [
        ".dvc-cml-manifest", ".gitignore",
        *sorted(
            [*(f"plots/{c}.png" for c in charts), *(f"plots/{c}.vl.json" for c in charts)]
            + [f"plots/{i}" for i in images]
        ),
        "report.html", "report.md",
    ]  # fmt: skip
    for name in [*(f"{c}.png" for c in charts), *images]:
        assert (report / "plots" / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), name
    assert [line for line in text.splitlines() if "[Vega-Lite spec]" in line] == [
        f"<sub>[Vega-Lite spec](plots/{c}.vl.json)</sub>" for c in ("loss", "accuracy", charts[2])
    ]
    page = (report / "report.html").read_text()
    # Offline: every script inlined (the Vega bundle, the page's own, a spec per chart).
    assert page.count("<script") == 2 + len(charts)
    assert not re.search(r"<script[^>]*\bsrc=", page)
