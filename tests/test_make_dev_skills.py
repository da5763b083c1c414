"""`make dev` offline runs a skill end to end: POST /api/runs with the template provider
completes, and the output is readable at GET /api/outputs/{id}."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from inngest_app.skills.providers import TEMPLATE_NOTICE
from inngest_app.testing.live import free_port
from tests.devstack import poll
from tests.queries.support import JWT_SECRET, token

ROOT = Path(__file__).resolve().parents[1]


def test_dev_runs_a_skill_offline_with_the_template_provider(tmp_path: Path) -> None:
    app_port, executor_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANTHROPIC_", "OPENAI_", "SKILL", "SUPABASE_"))
    }
    env.update(
        PORT=str(app_port),
        INNGEST_BASE_URL=f"http://127.0.0.1:{executor_port}",
        EMBEDDED_PG_DIR=str(tmp_path / "pg"),
        SKILL_OUTPUTS_DIR=str(tmp_path / "outputs"),
        SUPABASE_JWT_SECRET=JWT_SECRET,
    )
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "scripts/dev.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{app_port}"
    try:
        assert poll(f"{base}/api/inngest", 90) is not None, "make dev did not answer in 90 s"
        assert httpx.put(f"{base}/api/inngest", timeout=10).status_code == 200
        created = httpx.post(
            f"{base}/api/runs",
            json={"skillName": "content-calendar", "message": "Winter newsletter"},
            headers=token(),
            timeout=10,
        )
        assert created.status_code == 202, created.text
        run_id = created.json()["runId"]
        deadline = time.monotonic() + 30
        status: dict[str, object] = {}
        while time.monotonic() < deadline:
            status = httpx.get(f"{base}/api/runs/{run_id}", headers=token(), timeout=5).json()
            if status["status"] in ("completed", "failed"):
                break
            time.sleep(0.3)
        assert status.get("status") == "completed", status
        output = httpx.get(f"{base}/api/outputs/{status['outputId']}", headers=token(), timeout=5)
        assert output.status_code == 200
        assert TEMPLATE_NOTICE in output.json()["content"]
        assert "Winter newsletter" in output.json()["content"]
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            log = process.communicate(timeout=20)[0].decode(errors="replace")
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            log = process.communicate()[0].decode(errors="replace")
    assert "provider template" in log, log
