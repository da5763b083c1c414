"""The official JS SDK (v4, `inngest/node`'s `serve`) as a client of the test executor.

The app in `js_app/` runs one scenario: steps, a step that fails once and is retried, a sleep
(the JS SDK sends its duration, `"1s"`, where the Python SDK sends an ISO time), parallel
steps, `waitForEvent` with an `if`, and `sendEvent`. The test installs the pinned SDK with
`npm ci` (the npm registry only, its cache preferred) into a temporary copy of the app, serves
it with node and drives the scenario through the executor. Skipped where node or npm is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from inngest_app.testing import ManualClock, TestExecutor
from inngest_app.testing.live import free_port, serve_asgi

APP_DIR = Path(__file__).parent / "js_app"
NODE, NPM = shutil.which("node"), shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="node and npm are needed to serve the JS SDK app (CI has node 20 and npm)",
)


@pytest.fixture(scope="module")
def js_app() -> Iterator[Path]:
    """A temporary copy of `js_app/` with its pinned dependencies installed."""
    assert NPM is not None
    with tempfile.TemporaryDirectory(prefix="inngest-js-app-") as tmp:
        app = Path(tmp) / "app"
        shutil.copytree(APP_DIR, app, ignore=shutil.ignore_patterns("node_modules"))
        installed = subprocess.run(  # noqa: S603 - a fixed command line
            [NPM, "ci", "--prefer-offline", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=app,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert installed.returncode == 0, f"npm ci failed:\n{installed.stdout}\n{installed.stderr}"
        yield app


@contextlib.asynccontextmanager
async def serve_node(app: Path, executor_url: str) -> AsyncIterator[str]:
    """Run the app with node on a free port; yield its serve URL; stop it after."""
    assert NODE is not None
    port = free_port()
    env = {**os.environ, "PORT": str(port), "INNGEST_BASE_URL": executor_url, "INNGEST_DEV": "1"}
    process = await asyncio.create_subprocess_exec(
        NODE,
        "app.mjs",
        cwd=app,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/api/inngest"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                if process.returncode is not None:
                    output = await process.stdout.read() if process.stdout else b""
                    raise RuntimeError(f"node exited: {output.decode(errors='replace')}")
                with contextlib.suppress(httpx.TransportError):
                    await http.get(url, timeout=1)
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the JS SDK app did not start listening")
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()


@pytest.mark.timeout(900)  # a cold npm cache makes `npm ci` take minutes
async def test_the_js_sdk_scenario_completes_through_the_executor(js_app: Path) -> None:
    clock = ManualClock()
    executor = TestExecutor(clock=clock, max_in_flight=16)
    async with executor, serve_asgi(executor.asgi) as executor_url:
        async with serve_node(js_app, executor_url) as app_url:
            synced = await executor.sync(app_url)
            assert synced.status_code == 200, synced.text
            assert list(executor.functions) == ["js-app-scenario"]
            [event_id] = await executor.send({"name": "js/start", "data": {"n": 21, "order": "o1"}})
            waiting = await executor.wait_for(
                lambda r: r.event["id"] == event_id, status="waiting", timeout=60
            )
            started = waiting.started_at
            await executor.send({"name": "js/paid", "data": {"order": "o2", "amount": 1}})
            await executor.send({"name": "js/paid", "data": {"order": "o1", "amount": 5}})
            run = await executor.wait_for(waiting.run_id, timeout=60)
    assert run.status == "completed", run.error
    assert run.output == {"doubled": 42, "retried": 2, "parallel": ["L", "R"], "paid": 5}
    ops = [(r.name, r.op) for r in run.step_log]
    assert ("flaky", "StepError") in ops and ("flaky", "StepRun") in ops  # retried once
    assert ("nap", "Sleep") in [(r.name or "nap", r.op) for r in run.step_log if r.op == "Sleep"]
    assert run.ended_at is not None and run.ended_at - started >= 1  # the "1s" sleep, on the clock
    assert [e["data"] for e in executor.events if e["name"] == "js/done"] == [{"order": "o1"}]
