"""The stand-ins in tests/runners.py answer as GitHub's runner does: checked on values, so a
test of action.yml that passes on them would pass on GitHub too."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.runners import CacheService, condition, evaluate, parse_env_file

CONTEXTS: dict[str, Any] = {
    "inputs": {"version": "1.2", "empty": "", "flag": "false"},
    "steps": {"setup": {"outputs": {"dir": "/opt/x"}, "outcome": "success"}},
    "runner": {"os": "Linux"},
}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("v${{ inputs.version }}", "v1.2"),
        ("${{ inputs.empty || 'default' }}", "default"),  # `||` returns an operand
        ("${{ inputs.version || 'default' }}", "1.2"),
        ("${{ inputs.version && 'yes' }}", "yes"),
        ("${{ inputs.empty && 'yes' }}", ""),
        ("${{ runner.os == 'linux' }}", "true"),  # strings compare ignoring case
        ("${{ runner.os != 'Linux' }}", "false"),
        ("${{ !inputs.flag }}", "false"),  # 'false' is a non-empty string: truthy
        ("${{ !(inputs.empty) }}", "true"),
        ("${{ steps.setup.outputs.dir }}/bin:${{ 'it''s' }}", "/opt/x/bin:it's"),
        ("no expression", "no expression"),
    ],
)
def test_expressions_evaluate_as_on_github(text: str, value: str) -> None:
    assert evaluate(text, CONTEXTS) == value


def test_conditions_follow_the_job_s_status() -> None:
    outcomes = {
        (text, status): condition(text, CONTEXTS, status)
        for text in (None, "always()", "${{ failure() }}", "success() && runner.os == 'Linux'")
        for status in ("success", "failure")
    }
    assert outcomes == {
        (None, "success"): True,
        (None, "failure"): False,
        ("always()", "success"): True,
        ("always()", "failure"): True,
        ("${{ failure() }}", "success"): False,
        ("${{ failure() }}", "failure"): True,
        ("success() && runner.os == 'Linux'", "success"): True,
        ("success() && runner.os == 'Linux'", "failure"): False,
    }


@pytest.mark.parametrize("text", ["inputs.missing", "github.event.number", "inputs.version >"])
def test_what_the_stand_in_cannot_read_fails_the_test(text: str) -> None:
    with pytest.raises(AssertionError):
        evaluate(f"${{{{ {text} }}}}", CONTEXTS)


def test_output_files_are_read_as_github_writes_them(tmp_path: Path) -> None:
    path = tmp_path / "output"
    path.write_text("a=1\nlines<<EOF_1\nfirst\nx=y\n\nEOF_1\nb=c=d\n\n")
    assert parse_env_file(path) == {"a": "1", "lines": "first\nx=y\n", "b": "c=d"}
    assert parse_env_file(tmp_path / "missing") == {}


def test_the_cache_restores_exact_keys_then_the_newest_prefix_and_saves_once(
    tmp_path: Path,
) -> None:
    cache = CacheService(tmp_path / "store")
    (tmp_path / "store").mkdir()
    folder = tmp_path / "folder"
    for number, key in enumerate(["uv-linux-1", "uv-linux-2"]):
        folder.mkdir()
        (folder / "f").write_text(key)
        assert cache.save({"key": key, "path": str(folder)}) == {}
        os.utime(cache.store / key, (number, number))  # saved one after the other
        folder.joinpath("f").unlink()
        folder.rmdir()
    (folder / "f").parent.mkdir()
    (folder / "f").write_text("changed")
    assert cache.save({"key": "uv-linux-1", "path": str(folder)}) == {}  # not overwritten
    assert cache.saved == ["uv-linux-1", "uv-linux-2"]

    def restore(key: str, *prefixes: str) -> tuple[dict[str, str], str | None]:
        out = cache.restore({"key": key, "path": str(folder), "restore-keys": "\n".join(prefixes)})
        return out, (folder / "f").read_text() if (folder / "f").exists() else None

    assert restore("uv-linux-1") == (
        {"cache-hit": "true", "cache-matched-key": "uv-linux-1"},
        "uv-linux-1",
    )
    assert restore("uv-linux-3", "uv-linux-") == (
        {"cache-hit": "false", "cache-matched-key": "uv-linux-2"},
        "uv-linux-2",
    )
    assert restore("uv-mac-1", "uv-mac-") == ({"cache-hit": "false"}, "uv-linux-2")
