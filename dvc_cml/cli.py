"""Command line: parse flags, build options, dispatch.  No logic lives here.

Heavy libraries (dvc, altair, vl-convert, gitlab) are imported by the commands that need
them, so `dvc-cml --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from dvc_cml import __version__
from dvc_cml.errors import EXIT_USAGE, error_boundary

DEFAULT_OUT = "dvc-cml-report"
LOG_NAME = "dvc-cml.log"

EPILOG = """\
exit codes: 0 success (also when there is nothing to compare), 1 a problem you can fix
(message on stderr), 2 bad command-line usage, 3 an internal error (traceback in a log file).
"""


def _add_output_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=DEFAULT_OUT,
        help="report directory: report.md, PNG charts and their Vega-Lite specs "
        f"(default: {DEFAULT_OUT}/, relative to the project when -C is given)",
    )
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--md", action="store_true", help="print the Markdown report to stdout")
    fmt.add_argument("--json", action="store_true", help="print the report as one JSON document")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dvc-cml",
        description="Diff DVC metrics, params and plots against a base revision; render them "
        "as Markdown tables, PNG charts and a terminal view.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    diff = commands.add_parser(
        "diff",
        help="compare the workspace (or HEAD) with a base revision",
        description="Compare metrics, params and plots of BASE and HEAD.",
        epilog=EPILOG,
    )
    diff.add_argument(
        "base",
        nargs="?",
        metavar="BASE",
        help="revision to compare against (default: $CI_MERGE_REQUEST_TARGET_BRANCH_NAME in "
        "GitLab CI, else $CI_DEFAULT_BRANCH, else main or master)",
    )
    diff.add_argument(
        "head",
        nargs="?",
        metavar="HEAD",
        help="revision to compare (default: workspace, i.e. the files as they are on disk)",
    )
    diff.add_argument(
        "-C",
        dest="path",
        metavar="PATH",
        default=".",
        help="run as if started in PATH (default: the current directory)",
    )
    _add_output_flags(diff)
    diff.add_argument(
        "--no-post",
        action="store_true",
        help="do not post to GitLab (the default outside GitLab CI)",
    )

    demo = commands.add_parser(
        "demo",
        help="build the bundled example project in a temp dir and diff it",
        description="Copy the example project into a temp dir, make a git + DVC repo with a "
        "baseline on main and a tuned model on a branch (real `dvc repro`), and run "
        "`dvc-cml diff main` on it.",
    )
    _add_output_flags(demo)
    return parser


def _output(args: argparse.Namespace) -> str:
    return "md" if args.md else "json" if args.json else "terminal"


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help, --version and bad usage
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    env = os.environ if env is None else env

    if args.command == "diff":
        path = Path(args.path)
        out_dir = Path(args.out) if Path(args.out).is_absolute() else path / args.out
    else:
        out_dir = Path(args.out)
    code = [0]
    with error_boundary(out_dir.absolute() / LOG_NAME, code):
        code[0] = _dispatch(args, out_dir, env)
    return code[0]


def _dispatch(args: argparse.Namespace, out_dir: Path, env: Mapping[str, str]) -> int:
    from dvc_cml.report import DiffOptions, run_diff

    output = _output(args)
    if args.command == "demo":
        from dvc_cml.demo import run_demo

        return run_demo(out_dir, output)  # type: ignore[arg-type]
    options = DiffOptions(
        path=Path(args.path),
        base=args.base,
        head=args.head,
        out_dir=out_dir,
        output=output,  # type: ignore[arg-type]
        env=env,
    )
    return run_diff(options, sys.stdout)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
