"""Regression gates: parsing, config files, metric resolution, evaluation and rendering."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dvc_cml import format as fmt
from dvc_cml import gates
from dvc_cml.errors import UserError
from dvc_cml.gates import Config, evaluate, failed, load_config, parse_gate
from dvc_cml.model import (
    MISSING,
    UNREAD,
    Direction,
    Gate,
    GateResult,
    Problem,
    Revision,
    Row,
)
from dvc_cml.render import gates as render

EXPECTED = 'expected METRIC<CHANGE or METRIC>CHANGE, e.g. "test.auc<-0.01" or "test.loss>+5%"'


def gate(text: str) -> Gate:
    return parse_gate(text, "--fail-on")


# --- parsing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold", "relative"),
    [
        ("test.auc<-0.01", "test.auc", "<", -0.01, False),
        ("test.loss>+5%", "test.loss", ">", 5.0, True),
        ("test.loss>5%", "test.loss", ">", 5.0, True),
        ("  test.auc  <  - 0.01 ", "test.auc", "<", -0.01, False),
        ("test.loss > +5 %", "test.loss", ">", 5.0, True),
        ("rmse>1e-3", "rmse", ">", 0.001, False),
        ("rmse>1.5E+2", "rmse", ">", 150.0, False),
        ("acc<-.5", "acc", "<", -0.5, False),
        ("acc<0", "acc", "<", 0.0, False),
        ("acc<3.", "acc", "<", 3.0, False),
        (
            "eval/scores.yaml:per_class.cat.recall<-0.02",
            "eval/scores.yaml:per_class.cat.recall",
            "<",
            -0.02,
            False,
        ),
        ("val-set/top_k[3].hit_rate>+1%", "val-set/top_k[3].hit_rate", ">", 1.0, True),
        ("odd>name<-1", "odd>name", "<", -1.0, False),  # the operator is the last one
    ],
)
def test_parse_gate(text: str, metric: str, op: str, threshold: float, relative: bool) -> None:
    parsed = gate(text)
    assert (parsed.metric, parsed.op, parsed.threshold, parsed.relative) == (
        metric,
        op,
        threshold,
        relative,
    )
    assert parsed.source == "--fail-on"
    assert parsed.text == text.strip()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("test.auc", 'no "<" or ">"'),
        ("", 'no "<" or ">"'),
        ("test.auc=-0.01", 'no "<" or ">"'),
        ("<-0.01", 'no metric name before "<"'),
        ("  >5%", 'no metric name before ">"'),
        ("test.auc<", 'no change after "<"'),
        ("test.auc<=-0.01", '"<=" is not supported, use "<"'),
        ("test.loss>=5%", '">=" is not supported, use ">"'),
        ("test.auc<x", '"x" is not a number or a percentage'),
        ("test.auc<-", '"-" is not a number or a percentage'),
        ("test.auc<5%%", '"5%%" is not a number or a percentage'),
        ("test.auc<%5", '"%5" is not a number or a percentage'),
        ("test.auc<nan", '"nan" is not a number or a percentage'),
        ("test.auc<inf", '"inf" is not a number or a percentage'),
        ("test.auc<1,5", '"1,5" is not a number or a percentage'),
        ("test.auc<1e999", '"1e999" is too large'),
    ],
)
def test_parse_gate_errors(text: str, reason: str) -> None:
    with pytest.raises(UserError) as info:
        gate(text)
    assert str(info.value) == f'bad gate "{text.strip()}" in --fail-on: {reason}; {EXPECTED}'


def test_allowed_is_the_threshold_as_written() -> None:
    assert fmt.threshold(gate("a<-0.01")) == "-0.01"
    assert fmt.threshold(gate("a>5%")) == "+5%"
    assert fmt.threshold(gate("a>1e-3")) == "+0.001"
    assert fmt.threshold(gate("a<0")) == "0"


# --- config files ---------------------------------------------------------------------------


def test_no_config(tmp_path: Path) -> None:
    assert load_config(tmp_path) == Config()
    assert load_config(tmp_path).source is None


def test_pyproject_without_our_table_is_no_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["dvc-cml"]\n')
    assert load_config(tmp_path) == Config()


def test_yaml_config(tmp_path: Path) -> None:
    (tmp_path / ".dvc-cml.yaml").write_text(
        "fail-on:\n"
        "  - test.auc<-0.01\n"
        '  - "test.loss>+5%"\n'
        "lower-is-better: [latency_p99]\n"
        "higher-is-better:\n"
        "  - eval.json:score\n"
    )
    config = load_config(tmp_path)
    assert config.gates == (
        Gate("test.auc", "<", -0.01, False, ".dvc-cml.yaml", "test.auc<-0.01"),
        Gate("test.loss", ">", 5.0, True, ".dvc-cml.yaml", "test.loss>+5%"),
    )
    assert dict(config.directions) == {
        "latency_p99": Direction.LOWER,
        "eval.json:score": Direction.HIGHER,
    }
    assert config.source == ".dvc-cml.yaml"


def test_empty_yaml_config(tmp_path: Path) -> None:
    (tmp_path / ".dvc-cml.yaml").write_text("# nothing yet\n")
    assert load_config(tmp_path) == Config(source=".dvc-cml.yaml")


def test_pyproject_config(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n'
        "[tool.dvc-cml]\n"
        'fail-on = ["test.auc<-0.01", "test.loss>+5%"]\n'
        'lower-is-better = ["latency_p99"]\n'
    )
    config = load_config(tmp_path)
    assert [g.text for g in config.gates] == ["test.auc<-0.01", "test.loss>+5%"]
    assert {g.source for g in config.gates} == {"pyproject.toml"}
    assert dict(config.directions) == {"latency_p99": Direction.LOWER}
    assert config.source == "pyproject.toml"


def test_both_configs_merge_yaml_first(tmp_path: Path) -> None:
    (tmp_path / ".dvc-cml.yaml").write_text(
        "fail-on: [test.auc<-0.01]\nhigher-is-better: [drift, score]\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.dvc-cml]\nfail-on = ["test.loss>+5%"]\nlower-is-better = ["drift", "latency"]\n'
    )
    config = load_config(tmp_path)
    assert [(g.text, g.source) for g in config.gates] == [
        ("test.auc<-0.01", ".dvc-cml.yaml"),
        ("test.loss>+5%", "pyproject.toml"),
    ]
    assert dict(config.directions) == {
        "drift": Direction.HIGHER,  # .dvc-cml.yaml wins
        "score": Direction.HIGHER,
        "latency": Direction.LOWER,
    }
    assert config.source == ".dvc-cml.yaml, pyproject.toml"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            ".dvc-cml.yaml",
            "fail-on: [test.auc<-0.01\n",
            ".dvc-cml.yaml is not valid YAML (line 2): expected ',' or ']', but got '<stream end>'",
        ),
        (
            ".dvc-cml.yaml",
            "- test.auc<-0.01\n",
            ".dvc-cml.yaml must be a mapping of settings "
            "(fail-on, higher-is-better, lower-is-better)",
        ),
        (
            ".dvc-cml.yaml",
            "fail_on: [test.auc<-0.01]\n",
            '.dvc-cml.yaml: unknown key "fail_on" '
            "(expected fail-on, higher-is-better, lower-is-better)",
        ),
        (
            ".dvc-cml.yaml",
            "fail-on: test.auc<-0.01\n",
            '.dvc-cml.yaml: "fail-on" must be a list of strings',
        ),
        (
            ".dvc-cml.yaml",
            "lower-is-better: [loss, 3]\n",
            '.dvc-cml.yaml: "lower-is-better" must be a list of strings',
        ),
        (
            ".dvc-cml.yaml",
            "lower-is-better: ['  ']\n",
            '.dvc-cml.yaml: "lower-is-better" has an empty metric name',
        ),
        (
            ".dvc-cml.yaml",
            "lower-is-better: [drift]\nhigher-is-better: [drift]\n",
            ".dvc-cml.yaml: drift is in both higher-is-better and lower-is-better",
        ),
        (
            ".dvc-cml.yaml",
            "fail-on: [test.auc]\n",
            'bad gate "test.auc" in .dvc-cml.yaml, fail-on: no "<" or ">"; ' + EXPECTED,
        ),
        (
            "pyproject.toml",
            "[tool.dvc-cml]\nfail-on = [test.auc]\n",
            "pyproject.toml is not valid TOML: Invalid value (at line 2, column 12)",
        ),
        (
            "pyproject.toml",
            '[tool]\ndvc-cml = "test.auc<0"\n',
            "pyproject.toml: tool.dvc-cml must be a table "
            "(fail-on, higher-is-better, lower-is-better)",
        ),
        (
            "pyproject.toml",
            "[tool.dvc-cml]\nfail_on = []\n",
            'pyproject.toml: unknown key "tool.dvc-cml.fail_on" '
            "(expected fail-on, higher-is-better, lower-is-better)",
        ),
        (
            "pyproject.toml",
            '[tool.dvc-cml]\nhigher-is-better = "auc"\n',
            'pyproject.toml: "tool.dvc-cml.higher-is-better" must be a list of strings',
        ),
        (
            "pyproject.toml",
            '[tool.dvc-cml]\nfail-on = ["a<=1"]\n',
            'bad gate "a<=1" in pyproject.toml, tool.dvc-cml.fail-on: '
            '"<=" is not supported, use "<"; ' + EXPECTED,
        ),
    ],
)
def test_config_errors(tmp_path: Path, name: str, text: str, message: str) -> None:
    (tmp_path / name).write_text(text)
    with pytest.raises(UserError) as info:
        load_config(tmp_path)
    assert str(info.value) == message


def test_config_not_utf8(tmp_path: Path) -> None:
    (tmp_path / ".dvc-cml.yaml").write_bytes(b"fail-on: [\xff]\n")
    with pytest.raises(UserError, match=r"^\.dvc-cml\.yaml is not UTF-8 text: invalid start byte$"):
        load_config(tmp_path)


def test_pyproject_without_a_toml_parser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Python 3.10 without tomli: only an error when our table is there to be missed."""
    monkeypatch.setattr(gates, "_toml_loads", lambda: None)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndependencies = ["dvc-cml"]\n')
    assert load_config(tmp_path) == Config()
    for table in ('[tool.dvc-cml]\nfail-on = ["a<0"]\n', 'tool.dvc-cml.fail-on = ["a<0"]\n'):
        pyproject.write_text(table)
        with pytest.raises(UserError) as info:
            load_config(tmp_path)
        assert str(info.value) == (
            "pyproject.toml has a [tool.dvc-cml] table, but reading it needs Python 3.11+ "
            "or the tomli package: pip install tomli"
        )


# --- resolution and directions --------------------------------------------------------------

ROWS = (
    Row("eval/a.json", "test.auc", 0.81, 0.79),
    Row("eval/b.yaml", "test.auc", 0.7, 0.72),
    Row("eval/a.json", "test.loss", 0.6, 0.65),
    Row("eval/b.yaml", "per_class.cat.recall", 0.5, 0.5),
)


def test_resolve_exact_path_and_key() -> None:
    assert gates.resolve("eval/b.yaml:test.auc", ROWS) is ROWS[1]
    assert gates.resolve("eval/b.yaml:per_class.cat.recall", ROWS) is ROWS[3]


def test_resolve_unique_key() -> None:
    assert gates.resolve("test.loss", ROWS) is ROWS[2]
    assert gates.resolve("per_class.cat.recall", ROWS) is ROWS[3]


def test_resolve_ambiguous_key() -> None:
    with pytest.raises(UserError) as info:
        gates.resolve("test.auc", ROWS)
    assert str(info.value) == (
        "metric 'test.auc' is ambiguous: found in eval/a.json, eval/b.yaml; "
        "write it as PATH:METRIC, e.g. eval/a.json:test.auc"
    )


def test_resolve_none() -> None:
    assert gates.resolve("test.f1", ROWS) is None
    assert gates.resolve("eval/c.json:test.auc", ROWS) is None
    assert gates.resolve("test.auc", ()) is None


def test_apply_directions() -> None:
    rows = (
        Row("a.json", "drift", 1, 2),
        Row("b.json", "drift", 1, 2),
        Row("a.json", "score", 1, 2, Direction.LOWER),
        Row("a.json", "loss", 1, 2, Direction.LOWER),
    )
    directions = {
        "drift": Direction.LOWER,
        "b.json:drift": Direction.HIGHER,  # PATH:METRIC beats METRIC
        "a.json:score": Direction.HIGHER,
    }
    out = gates.apply_directions(rows, directions)
    assert [r.direction for r in out] == [
        Direction.LOWER,
        Direction.HIGHER,
        Direction.HIGHER,
        Direction.LOWER,
    ]
    assert out[3] is rows[3]  # untouched rows are the same objects
    assert [(r.path, r.key, r.base, r.head) for r in out] == [
        (r.path, r.key, r.base, r.head) for r in rows
    ]
    assert gates.apply_directions(rows, {}) == rows


# --- evaluation -----------------------------------------------------------------------------


def check(spec: str, base: object, head: object) -> GateResult:
    row = Row("m.json", spec.split("<")[0].split(">")[0], base, head)  # type: ignore[arg-type]
    (result,) = evaluate([gate(spec)], [row])
    assert result.row is row
    return result


@pytest.mark.parametrize(
    ("spec", "base", "head", "status", "detail"),
    [
        (
            "test.auc<-0.01",
            0.81,
            0.79,
            "fail",
            "test.auc changed by -0.02 (0.81 → 0.79), below the allowed -0.01",
        ),
        (
            "test.auc<-0.01",
            0.81,
            0.805,
            "pass",
            "test.auc changed by -0.005 (0.81 → 0.805), not below the allowed -0.01",
        ),
        (
            "test.auc<-0.01",
            0.81,
            0.8,
            "pass",  # strict: exactly at the threshold passes
            "test.auc changed by -0.01 (0.81 → 0.8), not below the allowed -0.01",
        ),
        (
            "test.auc<0",
            0.8,
            0.8,
            "pass",
            "test.auc changed by 0 (0.8 → 0.8), not below the allowed 0",
        ),
        ("epochs>2", 10, 13, "fail", "epochs changed by +3 (10 → 13), above the allowed +2"),
        (
            "test.loss>+5%",
            0.6,
            0.65,
            "fail",
            "test.loss changed by +8.3% (0.6 → 0.65), above the allowed +5%",
        ),
        (
            "test.loss>+5%",
            0.6,
            0.62,
            "pass",
            "test.loss changed by +3.3% (0.6 → 0.62), not above the allowed +5%",
        ),
        (
            "test.loss>+5%",
            0.6,
            0.6,
            "pass",
            "test.loss changed by 0% (0.6 → 0.6), not above the allowed +5%",
        ),
        (  # percent of |base|: a negative base still reads as a rise
            "score>+10%",
            -2.0,
            -1.5,
            "fail",
            "score changed by +25.0% (-2 → -1.5), above the allowed +10%",
        ),
        (
            "test.auc<-2%",
            0.8,
            0.76,
            "fail",
            "test.auc changed by -5.0% (0.8 → 0.76), below the allowed -2%",
        ),
    ],
)
def test_evaluate_numbers(spec: str, base: float, head: float, status: str, detail: str) -> None:
    result = check(spec, base, head)
    assert (result.status, result.detail) == (status, detail)


@pytest.mark.parametrize(
    ("spec", "head", "status", "detail"),
    [
        (
            "errors>+5%",
            3,
            "fail",
            "errors changed by +3 (0 → 3), an unbounded rise in percent from a base of 0, "
            "above the allowed +5%",
        ),
        (
            "errors>+5%",
            -3,
            "pass",
            "errors changed by -3 (0 → -3), an unbounded fall in percent from a base of 0, "
            "not above the allowed +5%",
        ),
        (
            "recall<-5%",
            -0.1,
            "fail",
            "recall changed by -0.1 (0 → -0.1), an unbounded fall in percent from a base of 0, "
            "below the allowed -5%",
        ),
        (
            "recall<-5%",
            0.1,
            "pass",
            "recall changed by +0.1 (0 → 0.1), an unbounded rise in percent from a base of 0, "
            "not below the allowed -5%",
        ),
        ("recall<-5%", 0, "pass", "recall is unchanged at 0, no change to check"),
        ("recall<+5%", 0.0, "pass", "recall is unchanged at 0, no change to check"),
    ],
)
def test_relative_gate_over_a_base_of_zero(
    spec: str, head: float, status: str, detail: str
) -> None:
    result = check(spec, 0, head)
    assert (result.status, result.detail) == (status, detail)


def test_added_metric_passes() -> None:
    result = check("test.f1<-0.01", MISSING, 0.7)
    assert result.status == "pass"
    assert result.detail == "test.f1 is a new metric, no base value to compare (head 0.7)"


def test_removed_metric_fails() -> None:
    result = check("test.f1<-0.01", 0.7, MISSING)
    assert result.status == "fail"
    assert result.detail == "test.f1 is missing at head (base 0.7)"


def test_metric_at_neither_revision_is_missing() -> None:
    (result,) = evaluate([gate("test.f1<-0.01")], ROWS)
    assert (result.status, result.row) == ("missing", None)
    assert result.detail == "test.f1 was not found at either revision (is the name right?)"
    assert failed([result])


@pytest.mark.parametrize(
    ("base", "head", "detail"),
    [
        ("n/a", 0.5, "acc is not a number at base (n/a → 0.5)"),
        (0.5, None, "acc is not a number at head (0.5 → null)"),
        (True, False, "acc is not a number at base and head (true → false)"),
        ([1, 2], 0.5, "acc is not a number at base ([1, 2] → 0.5)"),
        (float("nan"), 0.5, "acc has no finite change (NaN → 0.5)"),
        (0.5, float("inf"), "acc has no finite change (0.5 → Infinity)"),
    ],
)
def test_non_numeric_values_fail(base: object, head: object, detail: str) -> None:
    for spec in ("acc<-0.01", "acc<-1%"):
        result = check(spec, base, head)
        assert (result.status, result.detail) == ("fail", detail)


def test_evaluate_keeps_order_and_failed() -> None:
    specs = ["eval/b.yaml:test.auc<-0.01", "test.loss>+5%", "eval/a.json:test.auc<-1"]
    results = evaluate([gate(s) for s in specs], ROWS)
    assert [r.gate.text for r in results] == specs
    assert [r.row for r in results] == [ROWS[1], ROWS[2], ROWS[0]]
    assert [r.status for r in results] == ["pass", "fail", "pass"]
    assert failed(results)
    assert not failed(results[:1])
    assert not failed(())


def test_evaluate_ambiguous_metric_is_an_error() -> None:
    with pytest.raises(UserError, match=re.escape("metric 'test.auc' is ambiguous")):
        evaluate([gate("test.auc<-0.01")], ROWS)


# --- rendering ------------------------------------------------------------------------------

RESULTS = evaluate(
    [
        gate("eval/a.json:test.auc<-0.01"),
        gate("test.loss>+5%"),
        gate("eval/b.yaml:per_class.cat.recall<-0.05"),
        gate("test.f1<0"),
        gate("a|b_c>1"),
    ],
    (*ROWS, Row("x.json", "a|b_c", MISSING, 2)),
)


def test_markdown() -> None:
    assert render.markdown(RESULTS) == (
        "### Gates\n"
        "\n"
        "| Gate | Metric | base | head | Change | Result |\n"
        "|:---|:---|---:|---:|---:|:---|\n"
        "| eval/a.json:test.auc&lt;-0.01 | eval/a.json:test.auc | 0.81 | 0.79 | -0.02 | ❌ fail |\n"
        "| test.loss&gt;+5% | eval/a.json:test.loss | 0.6 | 0.65 | +0.05 (+8.3%) | ❌ fail |\n"
        "| eval/b.yaml:per\\_class.cat.recall&lt;-0.05 | eval/b.yaml:per\\_class.cat.recall "
        "| 0.5 | 0.5 | unchanged | ✅ pass |\n"
        "| test.f1&lt;0 | test.f1 | — | — |  | ⚠️ missing |\n"
        "| a&#124;b\\_c&gt;1 | x.json:a&#124;b\\_c | — | 2 | added | ✅ pass |\n"
        "\n"
        "2 of 5 gates passed.\n"
        "\n"
        "- eval/a.json:test.auc&lt;-0.01: "
        "eval/a.json:test.auc changed by -0.02 (0.81 → 0.79), below the allowed -0.01\n"
        "- test.loss&gt;+5%: test.loss changed by +8.3% (0.6 → 0.65), above the allowed +5%\n"
        "- test.f1&lt;0: test.f1 was not found at either revision (is the name right?)\n"
    )


def test_markdown_all_passed_and_empty() -> None:
    ok = evaluate([gate("test.loss>+10%")], ROWS)
    assert render.markdown(ok) == (
        "### Gates\n"
        "\n"
        "| Gate | Metric | base | head | Change | Result |\n"
        "|:---|:---|---:|---:|---:|:---|\n"
        "| test.loss&gt;+10% | eval/a.json:test.loss | 0.6 | 0.65 | +0.05 (+8.3%) | ✅ pass |\n"
        "\n"
        "1 of 1 gate passed.\n"
    )
    assert render.markdown(()) == ""


def test_lines() -> None:
    assert render.lines(RESULTS) == [
        "FAIL  eval/a.json:test.auc<-0.01: "
        "eval/a.json:test.auc changed by -0.02 (0.81 → 0.79), below the allowed -0.01",
        "FAIL  test.loss>+5%: test.loss changed by +8.3% (0.6 → 0.65), above the allowed +5%",
        "PASS  eval/b.yaml:per_class.cat.recall<-0.05: eval/b.yaml:per_class.cat.recall "
        "changed by 0 (0.5 → 0.5), not below the allowed -0.05",
        "MISS  test.f1<0: test.f1 was not found at either revision (is the name right?)",
        "PASS  a|b_c>1: a|b_c is a new metric, no base value to compare (head 2)",
    ]
    assert render.summary(RESULTS) == "2 of 5 gates passed."


# --- files not read -------------------------------------------------------------------------


def test_a_metric_whose_file_was_not_read_is_missing_there_not_new_or_removed() -> None:
    main, workspace = Revision("main", "1" * 40), Revision("workspace", "2" * 40, dirty=True)
    cut = Problem("live/metrics.json", workspace, "does not parse: Expecting value")
    broken = Problem("old.json", main, "does not parse: Expecting ','")
    rows = [
        Row("live/metrics.json", "acc", 0.9, UNREAD, Direction.HIGHER),
        Row("old.json", "f1", UNREAD, 0.7, Direction.HIGHER),
    ]
    results = evaluate([gate("acc<-0.5"), gate("f1<-0.5"), gate("auc<0")], rows, [cut, broken])
    assert [(r.status, r.detail) for r in results] == [
        (
            "missing",
            "acc is missing at workspace (2222222 + uncommitted changes): live/metrics.json "
            "was not read (does not parse: Expecting value)",
        ),
        (
            "missing",
            "f1 is missing at main (1111111): old.json was not read (does not parse: "
            "Expecting ',')",
        ),
        (
            "missing",
            "auc was not found; not read: live/metrics.json at workspace (2222222 + "
            "uncommitted changes), old.json at main (1111111)",
        ),
    ]
    assert failed(results)
    # Without the problems, the same rows would read as "new" (a pass) and "removed".
    assert Row("x", "f1", MISSING, 0.7).status.value == "added"
    assert rows[1].status.value == "not read"
