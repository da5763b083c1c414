"""`make dev` as the tests start it: in a session of its own, with its own ports and data, and
stopped the way a terminal stops it. Shared by the `make dev` tests and the README's tour."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.processes import kill_all, processes, wait_gone

ROOT = Path(__file__).resolve().parents[1]


def poll(url: str, seconds: float) -> httpx.Response | None:
    """GET `url` until it answers (any status) or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=1)
        except httpx.HTTPError:
            time.sleep(0.2)
    return None


@contextmanager
def private_dir(prefix: str = "inngest-app-dev-test-") -> Iterator[Path]:
    """A directory of its own (not pytest's tmp dirs, which are kept): removed afterwards, with
    anything still running from it killed first, failed test or not."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        kill_all(processes(markers=(str(path),)))
        shutil.rmtree(path, ignore_errors=True)


def start_dev(
    data_dir: Path, app_port: int, executor_port: int, *, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """`make dev` (what the target runs) in a session of its own, with its own ports and data;
    its output piped, or written to `log` (readable while it runs)."""
    env = {
        **os.environ,
        "PORT": str(app_port),
        "INNGEST_BASE_URL": f"http://127.0.0.1:{executor_port}",
        "EMBEDDED_PG_DIR": str(data_dir / "pg"),
    }
    sink = open(log, "wb") if log else None  # the child keeps its own copy
    try:
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "scripts/dev.py"],
            cwd=ROOT,
            env=env,
            stdout=sink or subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        if sink:
            sink.close()


def stop_dev(process: subprocess.Popen[bytes], how: signal.Signals) -> tuple[str, dict[int, str]]:
    """Ctrl-C (SIGINT to the whole group, as a terminal sends it) or SIGTERM to make dev
    alone; its piped output (empty when it went to a log) and whatever of its session is still
    running once it has exited."""
    if how is signal.SIGINT:
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(how)
    try:
        output = process.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output = process.communicate()[0]
    return (output or b"").decode(errors="replace"), wait_gone(session=process.pid)
