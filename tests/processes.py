"""What is running, as `ps` sees it: to prove a command leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import time


def processes(*, markers: tuple[str, ...] = (), session: int | None = None) -> dict[int, str]:
    """Live processes (pid → command line) whose command line contains one of `markers`, or
    that belong to the session `session` (a `start_new_session=True` child's pid)."""
    out = subprocess.run(  # noqa: S603
        ["ps", "-ww", "-eo", "pid=,sid=,stat=,args="],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = {}
    for line in out.splitlines():
        pid, sid, state, args = (
            line.split(None, 3) if len(line.split()) >= 4 else (*line.split(), "")
        )
        if state.startswith("Z") or int(pid) == os.getpid():
            continue  # a zombie has exited; its parent just hasn't reaped it
        if (session is not None and int(sid) == session) or any(m in args for m in markers):
            found[int(pid)] = args
    return found


def wait_gone(
    *, markers: tuple[str, ...] = (), session: int | None = None, seconds: float = 15
) -> dict[int, str]:
    """Poll until no such process is left or `seconds` pass; what is still there."""
    deadline = time.monotonic() + seconds
    left = processes(markers=markers, session=session)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = processes(markers=markers, session=session)
    return left


def kill_all(pids: dict[int, str]) -> None:
    """SIGKILL what a failed test left (so one failure does not leak into the next run)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
