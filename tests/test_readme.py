"""The README's two commands and CI stay in step."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    block = re.search(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README.md must open with a sh code block"
    return [line for line in block.group(1).splitlines() if line and not line.startswith("#")]


def test_readme_opens_with_install_and_demo_then_tests() -> None:
    demo, tests = readme_commands()
    assert demo.endswith("dvc-cml demo")
    assert "pip install -e ." in demo
    assert "pip install -e '.[test]'" in tests
    assert tests.endswith("python -m pytest")


def test_ci_runs_the_readme_test_command() -> None:
    _, tests = readme_commands()
    test_command = tests.rsplit("&& ", 1)[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_command in ci
    assert ".venv/bin/pip install -e '.[test]'" in ci


def test_ci_tests_the_oldest_dvc_that_pyproject_admits() -> None:
    """.ci/run reads the floor out of pyproject.toml with sed: the same version as the range."""
    import subprocess
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    ci = (ROOT / ".ci" / "run").read_text()
    [line] = [line for line in ci.splitlines() if line.startswith("dvc_floor=")]
    done = subprocess.run(
        ["bash", "-c", f"{line}; echo $dvc_floor"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    # The installed metadata, made from pyproject.toml by `pip install -e .`.
    [dvc] = [r for r in map(Requirement, requires("dvc-cml") or []) if r.name == "dvc"]
    [floor] = [spec.version for spec in dvc.specifier if spec.operator == ">="]
    assert done.stdout.strip() == floor
    assert '"dvc==$dvc_floor"' in ci


def test_readme_pictures_render_on_the_package_index_too() -> None:
    """PyPI shows the README as the project's page but resolves no relative image: each
    picture is an absolute raw link, under the project's Source URL at this release's tag, to
    a file the repository holds."""
    from importlib.metadata import metadata

    meta = metadata("dvc-cml")
    [source] = [
        url.split(", ", 1)[1]
        for url in meta.get_all("Project-URL") or []
        if url.startswith("Source, ")
    ]
    prefix = f"{source}/-/raw/v{meta['Version']}/"
    images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)", (ROOT / "README.md").read_text())
    assert images
    for url in images:
        assert url.startswith(prefix), url
        assert (ROOT / url.removeprefix(prefix)).is_file(), url


# "see 'Pull requests from forks' in dvc-cml's docs/github.md": what messages and templates
# point users to, a heading in a page of the docs.
POINTER = re.compile(r"""see ['"]([^'"]+)['"] in dvc-cml's ([\w/]+(?:\.md)?)""")


def test_pointers_to_the_docs_name_a_heading_that_is_there() -> None:
    sources = [*(ROOT / "dvc_cml").rglob("*.py"), *(ROOT / "templates").iterdir()]
    sources.append(ROOT / "action.yml")
    found = []
    for source in sources:
        text = " ".join(line.strip(" #") for line in source.read_text().splitlines())
        text = re.sub(r"""["']\s+["']""", "", text)  # strings Python joins
        for heading, page in POINTER.findall(text):
            found.append((source.name, heading, page))
            assert page.startswith("docs/"), (source.name, page)  # the reference lives there
            headings = re.findall(r"^#+ (.+)$", (ROOT / page).read_text(), re.M)
            assert heading in headings, (source.name, heading, page)
    assert sorted(found) == [
        ("dvc-cml.github-workflow.yml", "Pull requests from forks", "docs/github.md"),
        ("github.py", "Pull requests from forks", "docs/github.md"),
    ]
