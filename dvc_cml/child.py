"""Python processes of our own, started fresh: safe to start in a checkout, ended with us.

`python -c CODE` puts its working directory first on sys.path, and in CI that is the merge
request's checkout: a branch that commits `dvc_cml/` or `pickle.py` at its root would have
its code run by the child, with the job's environment and token.  `command` drops that entry
before the child imports anything (`-P` does the same, but only from Python 3.11 on).
multiprocessing's "spawn" starts its children with `-c` too, so every fresh process of ours
goes through here instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading

# The first lines of every child: off with the working directory (the empty string `-c`
# puts first; nothing is put there when PYTHONSAFEPATH is set or in isolated mode).
SAFE_PATH = (
    "import sys\n"
    "if not (getattr(sys.flags, 'safe_path', False) or sys.flags.isolated):\n"
    "    del sys.path[0]\n"
)
PR_SET_PDEATHSIG = 1  # prctl(2)


def command(code: str, *args: str) -> list[str]:
    """The command line that runs `code` in this interpreter, with `args` as sys.argv[1:]."""
    return [sys.executable, "-c", SAFE_PATH + code, *args]


def end_with(parent: int) -> None:
    """End this process when `parent` ends, however it ends (SIGTERM, SIGKILL, the OOM
    killer).  On Linux the kernel sends SIGKILL the moment the parent's thread that started
    this process ends; elsewhere a thread looks every second."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    else:

        def watch() -> None:
            while os.getppid() == parent:
                threading.Event().wait(1.0)
            os._exit(1)

        threading.Thread(target=watch, daemon=True).start()
    if os.getppid() != parent:  # it ended before the kernel was told
        os._exit(1)
