"""`make dev`'s promise: on a machine with no Dev Server, the service answers within 30 s and an
event sent to the offline executor runs end to end; on Ctrl-C or SIGTERM it stops everything it
started, the embedded Postgres included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from inngest_app.testing.live import free_port
from tests.devstack import ROOT, poll, private_dir, start_dev, stop_dev
from tests.processes import processes, wait_gone


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """A directory of its own, removed afterwards with anything still running from it."""
    with private_dir() as path:
        yield path


def test_dev_serves_within_30s_and_runs_events_offline(data_dir: Path) -> None:
    tmp_path = data_dir
    app_port, executor_port = free_port(), free_port()
    process = start_dev(data_dir, app_port, executor_port)
    try:
        # 30 s on an idle machine; the poll allows for a loaded CI runner (speed is not
        # what this test measures)
        response = poll(f"http://127.0.0.1:{app_port}/api/inngest", 90)
        assert response is not None, "make dev did not answer GET /api/inngest"
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
                            json={
                                "name": "app/ping",
                                "data": {"pause_s": 0.2, "userId": "newcomer"},
                            },
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
        # a newcomer's credential: a user token from the CLI reads that user's runs
        token = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "inngest_app", "token", "--user", "newcomer"],
            cwd=ROOT,
            env={**os.environ, "INNGEST_DEV": "1"},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
        listed: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not listed:
            runs = httpx.get(
                f"http://127.0.0.1:{app_port}/api/inngest/monitoring/runs",
                headers={"Authorization": f"Bearer {token}"},
                timeout=5,
            )
            assert runs.status_code == 200, runs.text
            listed = [r["functionId"] for r in runs.json()["runs"]]
            time.sleep(0.3)
        assert listed == ["inngest-app-ping"]
        postgres = processes(markers=(str(tmp_path / "pg"),))
        assert len(postgres) >= 1, "the embedded Postgres should be running under make dev"
    finally:
        output, session_left = stop_dev(process, signal.SIGINT)
    assert session_left == {}, session_left
    assert wait_gone(markers=(str(tmp_path / "pg"),)) == {}, "make dev left its Postgres running"
    assert "embedded Postgres stopped" in output, output
    assert "Warning" not in output, output  # platformdirs' XDG_RUNTIME_DIR one included
    assert "offline executor" in output, output
    assert "app synced" in output
    assert "npx inngest-cli@latest dev" in output
    assert "python -m inngest_app token --user" in output


def test_sigterm_stops_everything_make_dev_started(data_dir: Path) -> None:
    app_port, executor_port = free_port(), free_port()
    pg = str(data_dir / "pg")
    before = processes(markers=(pg, f"--port {app_port}", f"--port {executor_port}"))
    assert before == {}
    process = start_dev(data_dir, app_port, executor_port)
    try:
        ready = poll(f"http://127.0.0.1:{app_port}/healthz?ready=1", 90)
        assert ready is not None and ready.status_code == 200
        during = processes(markers=(pg,), session=process.pid)
        # make dev, the executor, uvicorn's reloader and worker, and Postgres (its own session)
        assert len(during) >= 5, during
    finally:
        output, session_left = stop_dev(process, signal.SIGTERM)
    assert session_left == {}, session_left
    after = wait_gone(markers=(pg, f"--port {app_port}", f"--port {executor_port}"))
    assert after == {}, output
    assert process.returncode == 0, output
