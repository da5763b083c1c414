"""The fuzzer's pieces: the live app in a thread of its own, and rows a refusal must not write."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

import jwt
import psycopg
import requests

from tests.harness import Live, LiveFactory
from tests.queries.support import JWT_SECRET, config
from tests.skills.support import ANTHROPIC_URL, message_ok

ADMIN_KEY = "admin-key-0123456789"

# Tables only requests write (functions write others in the background, e.g. results, repos).
REQUEST_TABLES = (
    "queries",
    "runs",
    "feedback",
    "workspaces",
    "workspace_repositories",
    "stripe_deliveries",
    "clients",
    "user_channels",
)


@contextlib.contextmanager
def live_in_thread(
    start_live: LiveFactory, **settings: Any
) -> Iterator[tuple[Live, asyncio.AbstractEventLoop]]:
    """The app and the test executor, running in their own event loop, for a synchronous client
    (schemathesis calls with `requests`). Stopped on exit, the test failed or not."""
    ready = threading.Event()
    box: dict[str, Any] = {}

    async def main() -> None:
        stop = asyncio.Event()
        try:
            async with start_live(**settings) as live:
                box.update(live=live, loop=asyncio.get_running_loop(), stop=stop)
                ready.set()
                await stop.wait()
        except BaseException as exc:
            box["error"] = exc
            ready.set()
            raise

    thread = threading.Thread(target=lambda: asyncio.run(main()), name="fuzz-app", daemon=True)
    thread.start()
    try:
        if not ready.wait(120) or "error" in box:
            raise RuntimeError(f"the app did not start: {box.get('error')!r}")
        yield box["live"], box["loop"]
    finally:
        if "loop" in box:
            box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(120)


class Rows:
    """Counts of the request-written tables, read with one query."""

    def __init__(self, database_url: str) -> None:
        self._conn = psycopg.connect(database_url, autocommit=True)
        parts = " union all ".join(
            f"select '{t}', count(*) from public.{t}" for t in REQUEST_TABLES
        )
        self._sql = parts

    def counts(self) -> dict[str, int]:
        with self._conn.cursor() as cur:
            cur.execute(self._sql)  # noqa: S608 (table names are constants above)
            return {name: int(n) for name, n in cur.fetchall()}

    def close(self) -> None:
        self._conn.close()


def user_token(sub: str = "fuzz-user") -> str:
    claims = {"sub": sub, "exp": int(time.time()) + 3600, "aud": "authenticated",
              "role": "authenticated"}  # fmt: skip
    return "Bearer " + jwt.encode(claims, JWT_SECRET, algorithm="HS256")


# mostly the owner of the seeded rows, so requests get past auth to the handlers


def seed_rows(base_url: str, live: Any, loop: asyncio.AbstractEventLoop) -> dict[str, str]:
    """Rows the path parameters can name: a workspace with a member, a query, a skill run and
    its output, a tracked repository (created through the API, as a user would)."""
    user = {"Authorization": user_token()}

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(f"{base_url}{path}", json=body, headers=user, timeout=30)
        assert response.status_code < 300, (path, response.text)
        answer: dict[str, Any] = response.json()
        return answer

    live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
    workspace = post("/api/workspaces", {"name": "Fuzz"})["id"]
    post(f"/api/workspaces/{workspace}/repositories/acme/app", {})  # isPriority: admins only
    query = post("/api/queries/run", config())["id"]
    run = post("/api/runs", {"skillName": "marketing-brief", "message": "Seed"})["runId"]
    post("/api/repositories", {"owner": "acme", "name": "app"})
    asyncio.run_coroutine_threadsafe(live.executor.run_until_idle(), loop).result(120)
    output = requests.get(f"{base_url}/api/runs/{run}", headers=user, timeout=30).json()
    ids = {"workspace_id": workspace, "query_id": query, "run_id": run}
    if output.get("outputId"):
        ids["output_id"] = output["outputId"]
    return ids
