"""The GitLab comment body and the settings read from GitLab CI's environment."""

from __future__ import annotations

from dvc_cml.model import Direction, PlotKind, RenderedPlot, Report, Revision, Row
from dvc_cml.render import comment
from dvc_cml.settings import gitlab_settings

BASE = Revision("main", "1111111aaaaaaa")
HEAD = Revision("feature", "2222222bbbbbbb")
MARKER = "<!-- dvc-cml:report -->"


def test_quick_actions_are_not_executed() -> None:
    text = "/close\n  /label ~bug\nnot /merge\n| /assign | x |\n"
    assert comment.neutralize_quick_actions(text) == (
        "\\/close\n  \\/label ~bug\nnot /merge\n| /assign | x |\n"
    )


def test_footer_names_pipeline_job_and_commits() -> None:
    report = Report(BASE, HEAD)
    text = comment.footer(
        report, ("77", "https://gl/p/-/pipelines/77"), ("88", "https://gl/p/-/jobs/88", "report")
    )
    assert text == (
        "<sub>Posted by dvc-cml, for pipeline [#77](https://gl/p/-/pipelines/77), "
        "job [#88 report](https://gl/p/-/jobs/88): main `1111111` → feature `2222222`</sub>"
    )
    assert comment.footer(report, (None, None), (None, None, None)) == (
        "<sub>Posted by dvc-cml: main `1111111` → feature `2222222`</sub>"
    )


def test_body_carries_marker_report_and_footer() -> None:
    report = Report(BASE, HEAD, metrics=(Row("m.json", "acc", 0.5, 0.6, Direction.HIGHER),))
    plots = [RenderedPlot("loss", "loss", PlotKind.LINE, True, png="/uploads/abc/loss.png")]
    body = comment.body(report, plots, marker=MARKER, footer_text="FOOT", full_report="X")
    lines = body.splitlines()
    assert lines[0] == MARKER
    assert lines[-1] == "FOOT"
    assert "| m.json | acc | 0.5 | 0.6 | +0.1 ✅ | +20.0% |" in lines
    assert "![loss](/uploads/abc/loss.png)" in lines


def big_report(changed: int, unchanged: int) -> Report:
    metrics = [Row("m.json", f"changed.metric_{i:05d}", i, i + 1) for i in range(changed)]
    metrics += [Row("m.json", f"same.metric_{i:05d}", i, i) for i in range(unchanged)]
    params = tuple(Row("params.yaml", f"p{i:05d}", i, i) for i in range(unchanged))
    return Report(BASE, HEAD, metrics=tuple(metrics), params=params)


def test_over_the_limit_drops_unchanged_rows_first() -> None:
    report = big_report(changed=50, unchanged=2000)
    full = comment.body(report, [], marker=MARKER, footer_text="FOOT", full_report="`r.md`")
    limit = len(full) // 2
    body = comment.body(
        report, [], marker=MARKER, footer_text="FOOT", full_report="`r.md`", limit=limit
    )
    assert len(body) <= limit
    assert body.startswith(MARKER + "\n> ✂️ This report is too long for a GitLab comment: ")
    assert "The full report is at `r.md`." in body
    assert body.count("| m.json | changed.metric\\_") == 50  # every changed metric kept
    assert "same.metric" not in body
    assert "<details>" not in body
    assert body.rstrip().endswith("FOOT")


def test_far_over_the_limit_cuts_the_longest_tables() -> None:
    report = big_report(changed=3000, unchanged=10)
    body = comment.body(
        report, [], marker=MARKER, footer_text="FOOT", full_report="there", limit=20_000
    )
    assert len(body) <= 20_000
    kept = body.count("| m.json | changed.metric\\_")
    assert 100 < kept < 3000
    assert f"… and {3000 - kept} more rows, left out here to fit." in body
    assert "the longest tables' last rows are left out. The full report is at there." in body


def test_five_thousand_metrics_fit_in_one_comment() -> None:
    report = big_report(changed=5000, unchanged=5000)
    body = comment.body(report, [], marker=MARKER, footer_text="FOOT", full_report="there")
    assert len(body) <= comment.NOTE_LIMIT


def test_settings_from_a_merge_request_pipeline() -> None:
    env = {
        "GITLAB_CI": "true",
        "CI_API_V4_URL": "https://example.com/gitlab/api/v4",
        "CI_SERVER_URL": "https://example.com",
        "CI_PROJECT_ID": "99",
        "CI_MERGE_REQUEST_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "7",
        "CI_COMMIT_SHA": "merge-result-sha",
        "CI_MERGE_REQUEST_SOURCE_BRANCH_SHA": "source-sha",
        "GITLAB_TOKEN": "glpat-secret-1",
        "REPO_TOKEN": "glpat-secret-2",
        "CI_SERVER_TLS_CA_FILE": "/etc/ca.pem",
    }
    s = gitlab_settings(env)
    assert (s.url, s.project, s.mr_iid, s.commit_sha) == (
        "https://example.com/gitlab",
        "42",
        7,
        "source-sha",
    )
    assert (s.token.value, s.token.source, s.ca_file) == (
        "glpat-secret-1",
        "GITLAB_TOKEN",
        "/etc/ca.pem",
    )
    assert "glpat" not in repr(s)
    assert s.marker == MARKER
    assert gitlab_settings(env, report_id="model-b").marker == "<!-- dvc-cml:report:model-b -->"


def test_settings_flags_win_and_job_token_is_recognised() -> None:
    env = {"CI_SERVER_URL": "https://gl.example", "CI_PROJECT_ID": "5", "CI_JOB_TOKEN": "jt"}
    s = gitlab_settings(env, url="https://other/", project="grp/proj", mr=3)
    assert (s.url, s.project, s.mr_iid) == ("https://other", "grp/proj", 3)
    assert s.token.value is None
    assert s.token.job_token_only
    assert s.token.looked_at == ("DVC_CML_TOKEN", "GITLAB_TOKEN", "REPO_TOKEN")
    custom = gitlab_settings({"MY_TOKEN": "t"}, token_env="MY_TOKEN")
    assert (custom.token.value, custom.token.source) == ("t", "MY_TOKEN")
    assert gitlab_settings({"MY_TOKEN": "t"}).token.value is None


def test_github_rules_limit_and_wording() -> None:
    report = big_report(changed=3000, unchanged=3000)
    body = comment.body(
        report, [], marker=MARKER, footer_text="FOOT", full_report="there", rules=comment.GITHUB
    )
    assert len(body) <= 65_536
    assert body.startswith(MARKER + "\n> ✂️ This report is too long for a GitHub comment: ")
    # GitHub runs no quick actions: a line starting with "/" is left as it is.
    small = Report(BASE, HEAD)
    github = comment.body(
        small, [], marker=MARKER, footer_text="/close", full_report="X", rules=comment.GITHUB
    )
    gitlab = comment.body(small, [], marker=MARKER, footer_text="/close", full_report="X")
    assert github.endswith("\n/close\n")
    assert gitlab.endswith("\n\\/close\n")


def test_without_images_names_the_files_and_the_intro_comes_first() -> None:
    plots = [
        RenderedPlot("loss", "loss", PlotKind.LINE, True, png="plots/loss.png", spec="s.json"),
        RenderedPlot(
            "img",
            "img",
            PlotKind.IMAGE,
            True,
            images=(("base", "plots/a.png"), ("head", "plots/b.png")),
        ),
    ]
    bare = comment.without_images(plots, "the run's artifacts")
    assert [(p.png, p.spec, p.images) for p in bare] == [(None, None, ()), (None, None, ())]
    assert bare[0].notes == ("Not shown here: loss.png, in the run's artifacts.",)
    assert bare[1].notes == ("Not shown here: a.png, b.png, in the run's artifacts.",)
    body = comment.body(
        Report(BASE, HEAD), bare, marker=MARKER, footer_text="F", full_report="X", intro="WHY"
    )
    assert body.startswith(f"{MARKER}\n> WHY\n\n## DVC report")
    assert "![" not in body


def test_job_summary_has_no_marker_and_says_why_it_was_not_posted() -> None:
    plots = [RenderedPlot("loss", "loss", PlotKind.LINE, True, png="plots/loss.png")]
    text = comment.summary(Report(BASE, HEAD), plots, full_report="X", problem="no token")
    assert text.startswith("> ⚠️ Not posted: no token\n\n## DVC report")
    assert "<!--" not in text
    assert "> Not shown here: loss.png, in the report directory." in text
    assert text.endswith("<sub>Written by dvc-cml</sub>\n")


def test_mentions_never_reach_the_comment_live() -> None:
    report = Report(
        Revision("@main", "1111111aaaaaaa"),
        HEAD,
        metrics=(Row("m.json", "@all", 0.5, 0.6),),
        params=(Row("params.yaml", "owner", "@alice", "@bob"),),
    )
    footer = comment.footer(report, ("77", None), ("88", None, "@job"))
    body = comment.body(report, [], marker=MARKER, footer_text=footer, full_report="X")
    zwj = "\u200d"
    assert f"| m.json | @{zwj}all | 0.5 | 0.6 | +0.1 | +20.0% |" in body
    assert f"| params.yaml | owner | @{zwj}alice | @{zwj}bob | changed |" in body
    assert body.endswith(
        f"<sub>Posted by dvc-cml, for pipeline #77, job #88 @{zwj}job: "
        f"@{zwj}main `1111111` → feature `2222222`</sub>\n"
    )
    # @main in the heading, 3 table headers and the footer; @all; @alice, @bob in 2 tables; @job
    assert body.count("@") == body.count("@" + zwj) == 11
