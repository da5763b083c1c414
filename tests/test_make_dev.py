"""`make dev`'s promise: on a machine with no Dev Server, the service answers within 30 s and an
event sent to the offline executor runs end to end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from inngest_app.testing.live import free_port

ROOT = Path(__file__).resolve().parents[1]


def _poll(url: str, seconds: float) -> httpx.Response | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            return httpx.get(url, timeout=1)
        except httpx.HTTPError:
            time.sleep(0.2)
    return None


def test_dev_serves_within_30s_and_runs_events_offline(tmp_path: Path) -> None:
    app_port, executor_port = free_port(), free_port()
    env = {
        **os.environ,
        "PORT": str(app_port),
        "INNGEST_BASE_URL": f"http://127.0.0.1:{executor_port}",
        "EMBEDDED_PG_DIR": str(tmp_path / "pg"),
    }
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "scripts/dev.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        response = _poll(f"http://127.0.0.1:{app_port}/api/inngest", 30)
        assert response is not None, "make dev did not answer GET /api/inngest within 30 s"
        assert time.monotonic() - started < 30
        assert response.json()["mode"] == "dev"
        # make dev syncs the app with the offline executor; syncing again is harmless and makes
        # the order certain before the event goes out
        assert httpx.put(f"http://127.0.0.1:{app_port}/api/inngest", timeout=10).status_code == 200
        deadline = time.monotonic() + 20
        sent = False
        with psycopg.connect(f"postgresql://postgres:@/postgres?host={tmp_path / 'pg'}") as conn:
            while time.monotonic() < deadline:
                if not sent:
                    try:
                        httpx.post(
                            f"http://127.0.0.1:{executor_port}/e/dev",
                            json={"name": "app/ping", "data": {"pause_s": 0.2}},
                            timeout=2,
                        ).raise_for_status()
                        sent = True
                    except httpx.HTTPError:
                        pass
                row = conn.execute("select count(*) from pings").fetchone()
                if row and row[0] >= 2:
                    break
                time.sleep(0.3)
            row = conn.execute("select count(*) from pings").fetchone()
        assert row is not None and row[0] == 2, "the ping run did not complete offline"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            output = process.communicate(timeout=20)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output = process.communicate()[0].decode(errors="replace")
    assert "offline executor" in output, output
    assert "app synced" in output
    assert "npx inngest-cli@latest dev" in output
