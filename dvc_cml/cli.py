"""Command line: parse flags, build options, dispatch.  No logic lives here.

Heavy libraries (dvc, altair, vl-convert, gitlab) are imported by the commands that need
them, so `dvc-cml --help` stays fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dvc_cml import __version__
from dvc_cml.downsample import DEFAULT_MAX_POINTS
from dvc_cml.errors import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    LOG_NAME,
    error_boundary,
    interrupt_lost,
    unraisable,
)
from dvc_cml.settings import DEFAULT_IMAGES_BRANCH, DEFAULT_PULL_TIMEOUT

if TYPE_CHECKING:  # the commands' modules are imported when they run: --help stays fast
    from dvc_cml.model import Gate
    from dvc_cml.render.drawing import ChartProcess
    from dvc_cml.report import DiffOptions, Output
    from dvc_cml.settings import ForgeSettings

DEFAULT_OUT = "dvc-cml-report"
# More arguments for `dvc-cml diff`, after the command line's: how the CI templates pass their
# `args` input / DVC_CML_ARGS variable, split here as a shell would (quotes work, nothing is
# expanded), since a shell's own word splitting keeps the quotes.
ARGS_ENV = "DVC_CML_ARGS"

EPILOG = """\
exit codes:
  0    the report was written (also when there is nothing to compare)
  1    a problem you can fix, in one line on stderr
  2    bad command-line usage
  3    an internal error (the traceback is in a log file)
  4    the report was written but not posted (GitLab, GitHub)
  5    a regression gate failed (after the report was written and posted)
  6    --repro: a stage's command failed (its own exit status is in the message)
  7    --pull: data could not be pulled; the report was written from what could be read
  130  interrupted (Ctrl-C, or SIGTERM)
"""

CHECK_EPILOG = """\
exit codes: 0 every gate passed (or none configured), 5 a gate failed, 1 a problem you can
fix, 2 bad usage, 3 an internal error, 130 interrupted.
"""


class _CommandParser(argparse.ArgumentParser):
    """A subcommand's parser: its revisions may come before, between or after its options
    (`dvc-cml diff main --md exp-a`), as argparse's intermixed parsing reads them.  An
    option that takes a value still takes the next word (`-e exp-a` names a baseline)."""

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._intermixing:  # intermixed parsing calls back in (its two passes)
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def _add_output_flags(parser: argparse.ArgumentParser, relative_to: str) -> None:
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=DEFAULT_OUT,
        help="report directory: report.md, report.html, PNG charts and their Vega-Lite specs "
        f"(default: {DEFAULT_OUT}/, {relative_to})",
    )
    parser.add_argument(
        "--open",
        dest="open_page",
        action="store_true",
        help="open report.html in the web browser ($BROWSER is honoured; never in CI)",
    )
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--md", action="store_true", help="print the Markdown report to stdout")
    fmt.add_argument("--json", action="store_true", help="print the report as one JSON document")


def _add_revision_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "head",
        nargs="?",
        metavar="REV",
        help="revision to compare with BASE: a branch, tag, SHA or DVC experiment name "
        "(default: workspace, i.e. the files as they are on disk)",
    )
    parser.add_argument(
        "more",
        nargs="*",
        metavar="REV",
        help="more revisions, each compared with BASE in the same report",
    )
    parser.add_argument(
        "-e",
        "--experiments",
        nargs="?",
        const="HEAD",
        metavar="BASELINE",
        help="add every DVC experiment of BASELINE's commit (default: HEAD), as `dvc exp show` "
        "lists them; queued and failed ones are left out",
    )


def _add_gate_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fail-on",
        action="append",
        default=[],
        metavar="GATE",
        help="fail when a metric changes too much: 'test.auc<-0.01' (absolute) or "
        "'test.loss>+5%%' (relative); repeatable; added to `fail-on` in .dvc-cml.yaml or "
        "[tool.dvc-cml] in pyproject.toml. Exit code 5 when a gate fails.",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dvc-cml",
        description="Diff DVC metrics, params and plots against a base revision; render them "
        "as Markdown tables, PNG charts and a terminal view.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=_CommandParser
    )

    diff = commands.add_parser(
        "diff",
        help="compare the workspace (or other revisions) with a base revision",
        description="Compare metrics, params and plots of BASE and each REV: one report. More "
        f"arguments may come from ${ARGS_ENV}, added after these and split as a shell would "
        "(quotes work, nothing is expanded): the CI templates pass theirs that way.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    diff.add_argument(
        "base",
        nargs="?",
        metavar="BASE",
        help="revision to compare against (default: $CI_MERGE_REQUEST_TARGET_BRANCH_NAME in "
        "GitLab CI, else $CI_DEFAULT_BRANCH, else main or master)",
    )
    _add_revision_flags(diff)
    diff.add_argument(
        "-C",
        dest="path",
        metavar="PATH",
        default=".",
        help="run as if started in PATH (default: the current directory)",
    )
    _add_output_flags(diff, "relative to the project when -C is given")
    diff.add_argument(
        "--metrics-report",
        metavar="FILE",
        help="also write the head's metrics in OpenMetrics text format, for GitLab's metrics "
        "report widget (artifacts:reports:metrics), which compares one set of values with the "
        "target branch's: with several revisions, only the first REV's (the first experiment's "
        "with -e alone; `main workspace -e` keeps the workspace's); relative to the project "
        "with -C",
    )
    _add_gate_flags(diff)
    diff.add_argument(
        "--all-plots",
        action="store_true",
        help="also draw plots whose data is the same at both revisions",
    )
    diff.add_argument(
        "--max-points",
        type=_positive,
        default=DEFAULT_MAX_POINTS,
        metavar="N",
        help="downsample longer series to N points before drawing, keeping their shape "
        f"(default: {DEFAULT_MAX_POINTS}; tables are never downsampled)",
    )
    data = diff.add_argument_group("data and pipeline (through DVC's Python API)")
    data.add_argument(
        "--pull",
        action="store_true",
        help="first fetch and check out the metrics and plots outputs from the DVC remote",
    )
    data.add_argument(
        "--pull-all", action="store_true", help="first pull everything (implies --pull)"
    )
    data.add_argument(
        "--pull-timeout",
        type=_seconds,
        default=DEFAULT_PULL_TIMEOUT,
        metavar="SECONDS",
        help=f"give up pulling after SECONDS (default: {DEFAULT_PULL_TIMEOUT}; 0: no limit); "
        "the report is then made from what could be read, and the run exits 7",
    )
    data.add_argument(
        "--repro",
        action="store_true",
        help="first reproduce the pipeline (with --pull, missing data comes from the remote)",
    )
    data.add_argument(
        "--repro-targets",
        nargs="+",
        metavar="STAGE",
        default=(),
        help="reproduce only these stages (implies --repro)",
    )
    posting = diff.add_argument_group(
        "posting",
        "post the report as one merge-request (GitLab) or pull-request (GitHub) comment, "
        "updated on every run",
    )
    post = posting.add_mutually_exclusive_group()
    post.add_argument(
        "--post",
        dest="post",
        action="store_true",
        default=None,
        help="post the report (the default in GitLab CI and GitHub Actions, where $GITLAB_CI "
        "or $GITHUB_ACTIONS is true)",
    )
    post.add_argument(
        "--no-post", dest="post", action="store_false", help="do not post (default elsewhere)"
    )
    posting.add_argument(
        "--forge",
        choices=("gitlab", "github"),
        help="where to post (default: detected in CI; elsewhere from the flags below, else gitlab)",
    )
    posting.add_argument(
        "--dry-run",
        action="store_true",
        help="do everything but the write calls, and print the comment that would be posted",
    )
    posting.add_argument(
        "--token-env",
        metavar="NAME",
        help="environment variable holding the token (default: the first set of "
        "$DVC_CML_TOKEN, $GITLAB_TOKEN, $REPO_TOKEN for GitLab, where it needs the `api` "
        "scope; $DVC_CML_TOKEN, $GITHUB_TOKEN, $REPO_TOKEN for GitHub)",
    )
    posting.add_argument(
        "--id",
        dest="report_id",
        type=_report_id,
        metavar="NAME",
        help="keep a separate comment per NAME (e.g. one per model or job)",
    )
    posting.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="log each step and HTTP request on stderr (the token is never shown)",
    )
    posting.add_argument(
        "--new-comment",
        action="store_true",
        help="always add a new comment instead of updating the earlier one",
    )
    gitlab = diff.add_argument_group("GitLab")
    gitlab.add_argument(
        "--gitlab-url",
        metavar="URL",
        help="GitLab instance, e.g. https://gitlab.example.com/gitlab "
        "(default: $CI_API_V4_URL without /api/v4, else $CI_SERVER_URL)",
    )
    gitlab.add_argument(
        "--project",
        metavar="ID",
        help="project id or path (default: $CI_MERGE_REQUEST_PROJECT_ID, else $CI_PROJECT_ID)",
    )
    gitlab.add_argument(
        "--mr", type=int, metavar="IID", help="merge request (default: $CI_MERGE_REQUEST_IID)"
    )
    github = diff.add_argument_group(
        "GitHub", "charts are committed to a branch of the repository and linked from there"
    )
    github.add_argument(
        "--github-url",
        metavar="URL",
        help="GitHub Enterprise Server, e.g. https://github.example.com (default: "
        "$GITHUB_API_URL, else https://api.github.com)",
    )
    github.add_argument(
        "--repo",
        type=_repo,
        metavar="OWNER/NAME",
        help="repository (default: $GITHUB_REPOSITORY)",
    )
    github.add_argument(
        "--pr",
        type=_pr_number,
        metavar="N",
        help="pull request (default: the event's, from $GITHUB_EVENT_PATH; else the open "
        "pull request of the commit; else a commit comment)",
    )
    images = github.add_mutually_exclusive_group()
    images.add_argument(
        "--images-branch",
        type=_branch,
        metavar="NAME",
        help=f"branch the charts are committed to (default: {DEFAULT_IMAGES_BRANCH}; needs "
        "`contents: write`)",
    )
    images.add_argument(
        "--no-images-branch",
        dest="images_branch",
        action="store_const",
        const="",
        help="commit nothing: post the tables and point to the run's artifacts for the charts",
    )

    check = commands.add_parser(
        "check",
        help="evaluate the regression gates only (for pre-push hooks and CI)",
        description="Diff metrics against BASE and evaluate the regression gates, without "
        "posting or writing files (unless --out is given).",
        epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("base", nargs="?", metavar="BASE", help="as for `diff`")
    _add_revision_flags(check)
    check.add_argument("-C", dest="path", metavar="PATH", default=".", help="as for `diff`")
    check.add_argument("--out", metavar="DIR", help="also write the full report to DIR")
    _add_gate_flags(check)

    demo = commands.add_parser(
        "demo",
        help="build the bundled example project in a temp dir and diff it",
        description="Copy the example project into a temp dir, make a git + DVC repo with a "
        "baseline on main and a tuned model on a branch (real `dvc repro`), and run "
        "`dvc-cml diff main` on it. The project is kept for you to look into: the last line "
        "says where it is and how to remove it.",
    )
    _add_output_flags(demo, "in the current directory")
    parser.set_defaults(commands={"diff": diff, "check": check, "demo": demo})
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """`parser.parse_args`, except that arguments nobody takes are reported with the usage
    of the command they were given to (`dvc-cml diff: error: ...`), not the top level's."""
    args, extra = parser.parse_known_args(argv)
    if extra:
        command = args.commands.get(args.command, parser)
        command.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 10:
        raise argparse.ArgumentTypeError("expected a whole number of at least 10")
    return int(value)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError("expected a number of seconds (0: no limit)")
    return seconds


def _repo(value: str) -> str:
    if not re.fullmatch(r"[\w.-]+/[\w.-]+", value):
        raise argparse.ArgumentTypeError("expected OWNER/NAME, e.g. octo-org/model")
    return value


def _pr_number(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("expected a pull request number")
    return int(value)


def _branch(value: str) -> str:
    # git check-ref-format, in short: no spaces, control characters, "..", "~^:?*[\\" or "@{".
    bad = re.search(r"[\s~^:?*\[\\]|\.\.|@\{|^[-/.]|[/.]$|//|\.lock$", value)
    if not value or bad or any(ord(c) < 32 for c in value):
        raise argparse.ArgumentTypeError("not a valid git branch name")
    return value


def _report_id(value: str) -> str:
    from dvc_cml.settings import REPORT_ID

    if not REPORT_ID.match(value):
        raise argparse.ArgumentTypeError("use 1-64 characters of A-Z a-z 0-9 _ . -")
    return value


def _output(args: argparse.Namespace) -> Output:
    return "md" if args.md else "json" if args.json else "terminal"


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    parser = build_parser()
    try:
        args = parse(parser, argv)
        if args.command == "diff" and env.get(ARGS_ENV, "").strip():
            args = _with_env_args(parser, sys.argv[1:] if argv is None else argv, env[ARGS_ENV])
    except SystemExit as exc:  # argparse exits on --help, --version and bad usage
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE

    if args.command == "demo":
        out_dir = Path(args.out)
    else:
        out_dir = _in_project(args, args.out or DEFAULT_OUT)
    code = [0]
    with error_boundary(out_dir.absolute() / LOG_NAME, code):
        code[0] = _dispatch(args, out_dir, env)
    return code[0]


def _with_env_args(
    parser: argparse.ArgumentParser, argv: Sequence[str], extra: str
) -> argparse.Namespace:
    """The command line plus $DVC_CML_ARGS, split as a shell would."""
    try:
        words = shlex.split(extra)
    except ValueError as exc:  # an unbalanced quote
        print(f"dvc-cml: error: ${ARGS_ENV}: {exc}: {extra}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE) from None
    try:
        return parse(parser, [*argv, *words])
    except SystemExit as exc:
        if exc.code:  # not --help: say where the words argparse complained about came from
            print(f"dvc-cml: (the arguments included ${ARGS_ENV}: {extra})", file=sys.stderr)
        raise


def _in_project(args: argparse.Namespace, path: str) -> Path:
    """Paths given with -C are relative to the project, as with `git -C`."""
    return Path(path) if Path(path).is_absolute() else Path(args.path) / path


def _dispatch(args: argparse.Namespace, out_dir: Path, env: Mapping[str, str]) -> int:
    if args.command == "diff":
        from dvc_cml.render.drawing import chart_process

        # The chart workers start before anything else is imported: every chart waits
        # for their start-up, and they fork a small process.
        with chart_process() as charts:
            return _run(args, out_dir, env, charts)
    return _run(args, out_dir, env, None)


def _run(
    args: argparse.Namespace, out_dir: Path, env: Mapping[str, str], charts: ChartProcess | None
) -> int:
    from dvc_cml.gates import parse_gate
    from dvc_cml.report import DiffOptions, run_check, run_diff

    if args.command == "demo":
        from dvc_cml.demo import run_demo

        return run_demo(out_dir, _output(args), open_page=args.open_page, env=env)
    fail_on = tuple(parse_gate(text, "--fail-on") for text in args.fail_on)
    if args.command == "check":
        options = DiffOptions(
            path=Path(args.path),
            base=args.base,
            head=args.head,
            more=tuple(args.more),
            experiments=args.experiments,
            out_dir=out_dir,
            env=env,
            fail_on=fail_on,
        )
        return run_check(options, write=args.out is not None)
    return run_diff(_diff_options(args, out_dir, env, fail_on), sys.stdout, charts)


def _diff_options(
    args: argparse.Namespace, out_dir: Path, env: Mapping[str, str], fail_on: tuple[Gate, ...]
) -> DiffOptions:
    from dvc_cml.errors import configure_logging, register_secret
    from dvc_cml.report import DiffOptions
    from dvc_cml.settings import (
        GITHUB_TOKEN_VARS,
        TOKEN_VARS,
        in_github_actions,
        in_gitlab_ci,
        job_summary,
        not_posting,
    )

    post = args.post if args.post is not None else in_gitlab_ci(env) or in_github_actions(env)
    if args.post is None and not (post or args.dry_run) and (why := not_posting(env)):
        print(f"dvc-cml: {why}", file=sys.stderr)
    forge = _forge_settings(args, env) if post or args.dry_run else None
    if forge is not None:
        register_secret(forge.token.value)
    # Also the tokens a job has when it does not post: none of them may reach the report.
    for name in {*TOKEN_VARS, *GITHUB_TOKEN_VARS, "CI_JOB_TOKEN"}:
        register_secret(env.get(name))
    configure_logging(args.verbose)
    return DiffOptions(
        path=Path(args.path),
        base=args.base,
        head=args.head,
        more=tuple(args.more),
        experiments=args.experiments,
        out_dir=out_dir,
        output=_output(args),
        env=env,
        forge=forge,
        summary=job_summary(env),
        pull=args.pull,
        pull_all=args.pull_all,
        pull_timeout=args.pull_timeout or None,
        repro=args.repro or bool(args.repro_targets),
        repro_targets=tuple(args.repro_targets),
        fail_on=fail_on,
        max_points=args.max_points,
        all_plots=args.all_plots,
        metrics_report=_in_project(args, args.metrics_report) if args.metrics_report else None,
        open_page=args.open_page,
    )


GITLAB_FLAGS = ("gitlab_url", "project", "mr")
GITHUB_FLAGS = ("github_url", "repo", "pr", "images_branch")


def _forge_settings(args: argparse.Namespace, env: Mapping[str, str]) -> ForgeSettings:
    """GitLab or GitHub: --forge, else the CI we run in, else the flags given, else GitLab."""
    from dvc_cml.errors import UsageError
    from dvc_cml.settings import detect_forge, github_settings, gitlab_settings

    given = {
        name: [f"--{f.replace('_', '-')}" for f in flags if getattr(args, f) is not None]
        for name, flags in (("gitlab", GITLAB_FLAGS), ("github", GITHUB_FLAGS))
    }
    forge = detect_forge(env, args.forge)
    if forge is None:
        forge = "github" if given["github"] and not given["gitlab"] else "gitlab"
    other = "github" if forge == "gitlab" else "gitlab"
    if given[other]:
        names = {"gitlab": "GitLab", "github": "GitHub"}
        raise UsageError(
            f"{given[other][0]} is a {names[other]} flag, but this run posts to "
            f"{names[forge]}" + ("" if args.forge else f" (pass --forge {other} to post there)")
        )
    if forge == "github":
        return github_settings(
            env,
            url=args.github_url,
            repo=args.repo,
            token_env=args.token_env,
            pr=args.pr,
            images_branch=None
            if args.images_branch == ""
            else args.images_branch or DEFAULT_IMAGES_BRANCH,
            report_id=args.report_id,
            new_comment=args.new_comment,
            dry_run=args.dry_run,
        )
    return gitlab_settings(
        env,
        url=args.gitlab_url,
        project=args.project,
        token_env=args.token_env,
        mr=args.mr,
        report_id=args.report_id,
        new_comment=args.new_comment,
        dry_run=args.dry_run,
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def console() -> None:
    """The `dvc-cml` command: `main`, then a quick exit.

    Every file is written and closed and the chart process has ended by the time `main`
    returns; what is left is the interpreter tearing down DVC's, altair's and vl-convert's
    modules, 0.1-0.2 s of every run.  Tests call `main` and keep the normal exit.
    """
    # SIGTERM (a CI job cancelled, a timeout) ends a run as Ctrl-C does: the chart workers
    # are stopped, one line says so, exit 130.
    signal.signal(signal.SIGTERM, _interrupt)
    sys.unraisablehook = unraisable
    code = main()
    if interrupt_lost():  # the run went on to its end: it was still asked to stop
        print("dvc-cml: interrupted", file=sys.stderr)
        code = EXIT_INTERRUPTED
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`dvc-cml diff | head`)
            stream.flush()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
