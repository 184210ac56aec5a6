"""One error boundary for the whole tool.

A `UserError` is something the user can fix; it is printed as one line and the process
exits with `EXIT_USER_ERROR`.  Anything else is a bug in dvc-cml or a dependency: it is
reported in one line with the path of a log file holding the traceback.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

EXIT_OK = 0
EXIT_USER_ERROR = 1
EXIT_USAGE = 2  # argparse's own code for bad flags
EXIT_INTERNAL = 3
EXIT_NOT_POSTED = 4  # the report is on disk, but posting it (GitLab, GitHub) failed
EXIT_GATE_FAILED = 5  # a regression gate failed (the report is complete and posted)
# --repro: a stage's command failed.  One code of our own, the stage's status in the message:
# passed on, a stage's 1, 4 or 5 would read as ours.
EXIT_STAGE_FAILED = 6
# --pull: data could not be pulled; the report was written from what could be read.
EXIT_NOT_PULLED = 7
EXIT_INTERRUPTED = 130

LOG_NAME = "dvc-cml.log"  # in the report directory: the traceback of an internal error


# Values that must never be printed or logged (the forge token); see register_secret.
_SECRETS: set[str] = set()


MIN_SECRET = 8  # shorter values are not tokens, and masking them would mangle reports


def register_secret(value: str | None) -> None:
    if value and len(value) >= MIN_SECRET:
        _SECRETS.add(value)


def holds_secret(data: str | bytes) -> bool:
    """Whether `data` holds the value of any registered secret."""
    if isinstance(data, str):
        return any(secret in data for secret in _SECRETS)
    return any(secret.encode() in data for secret in _SECRETS)


def redact(text: str) -> str:
    for secret in _SECRETS:
        text = text.replace(secret, "[masked]")
    return text


def redact_bytes(data: bytes) -> bytes:
    for secret in _SECRETS:
        data = data.replace(secret.encode(), b"[masked]")
    return data


class Redacting:
    """A text stream that masks secrets in what is written to it (the terminal view)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(redact(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, flush, encoding, ...
        return getattr(self._stream, name)


class UserError(Exception):
    """A problem with the input or environment, explained in one actionable line."""

    exit_code = EXIT_USER_ERROR


class UsageError(UserError):
    """Flags that do not go together (found after parsing): exit code 2, as argparse's."""

    exit_code = EXIT_USAGE


def _one_line(text: str) -> str:
    from dvc_cml.render.termtext import visible

    return visible(redact(" ".join(text.split())))


def write_log(log_path: Path, exc: BaseException) -> Path:
    from dvc_cml import files

    stamp = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    trace = redact("".join(traceback.format_exception(exc)))
    files.append(log_path, f"### dvc-cml {stamp}\n{trace}\n")
    return log_path


# Ctrl-C as seen by `unraisable`: "said" once error_boundary has said so, "lost" when it
# landed in a finalizer.
_interrupts: list[str] = []


def unraisable(args: sys.UnraisableHookArgs) -> None:
    """`sys.unraisablehook` for the command: Python drops an exception raised in a finalizer
    (`__del__`) and carries on, a Ctrl-C landing there included; remember that one.  After an
    interrupt, objects it left half-built (DVC's progress bars) fail in their finalizers:
    their "Exception ignored in ..." after our one line is noise."""
    if isinstance(args.exc_value, KeyboardInterrupt):
        _interrupts.append("lost")
    elif not _interrupts:
        sys.__unraisablehook__(args)


def interrupt_lost() -> bool:
    """Whether a Ctrl-C landed in a finalizer and was never said."""
    return "lost" in _interrupts and "said" not in _interrupts


@contextlib.contextmanager
def error_boundary(log_path: Path, exit_code: list[int]) -> Iterator[None]:
    """Turn every exception into a message and an exit code stored in `exit_code[0]`."""
    try:
        yield
    except UserError as exc:
        print(f"dvc-cml: error: {_one_line(str(exc))}", file=sys.stderr)
        exit_code[0] = exc.exit_code
    except KeyboardInterrupt:
        print("dvc-cml: interrupted", file=sys.stderr)
        exit_code[0] = EXIT_INTERRUPTED
        _interrupts.append("said")
    except Exception as exc:
        try:
            where = f"the traceback is in {write_log(log_path, exc)}"
        except OSError as log_exc:
            where = f"could not write a log file ({log_exc.strerror})"
        print(
            f"dvc-cml: internal error: {type(exc).__name__}: {_one_line(str(exc))[:300]} "
            f"({where}; please report it)",
            file=sys.stderr,
        )
        exit_code[0] = EXIT_INTERNAL


class _Redact(logging.Filter):
    """Mask secrets in every log line, whatever library wrote it, and show control
    characters instead of sending them to the terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        from dvc_cml.render.termtext import visible

        record.msg, record.args = visible(redact(record.getMessage())), None
        return True


def configure_logging(verbose: bool) -> None:
    """--verbose: our steps and each HTTP request (method, URL, status) on stderr.

    main() may run more than once in one process: an earlier run's handler (on an earlier
    stderr) is removed either way.
    """
    loggers = (("dvc_cml", logging.INFO), ("urllib3", logging.DEBUG), ("github", logging.INFO))
    for name, _ in loggers:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if any(isinstance(f, _Redact) for f in h.filters)]:
            logger.removeHandler(old)
            logger.setLevel(logging.NOTSET)
    if not verbose:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("dvc-cml: %(name)s: %(message)s"))
    handler.addFilter(_Redact())
    for name, level in loggers:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
