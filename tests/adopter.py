"""Runs a command as a child subreaper (Linux): processes orphaned below it are adopted by this
one instead of PID 1, so a test can kill a supervisor with SIGKILL and see what its workers do
next without them ever signalling a process outside the test.

Prints ``adopter: child PID`` for the command, ``adopter: SIGHUP`` for each SIGHUP it gets,
``adopter: reaped PID`` for each process that exits below it, and ``adopter: every process
exited`` once none is left; then exits.

    python -m tests.adopter COMMAND [ARG...]
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

PR_SET_CHILD_SUBREAPER = 36


def main(command: list[str]) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    signal.signal(signal.SIGHUP, lambda signum, frame: print("adopter: SIGHUP", flush=True))
    child = subprocess.Popen(command)
    print(f"adopter: child {child.pid}", flush=True)
    while True:
        try:
            pid, _ = os.wait()  # the child, and every orphan adopted meanwhile
        except ChildProcessError:
            break
        print(f"adopter: reaped {pid}", flush=True)
    print("adopter: every process exited", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
