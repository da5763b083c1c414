"""Shared pieces of the query tests: a fake source API (respx side effect), credentials, and
the API calls that start a query and read it back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import jwt

if TYPE_CHECKING:
    from tests.harness import Live

API = "https://api.acme.test/items"
JWT_SECRET = "test-jwt-secret-with-enough-length-0123"
USER = "user-1"
PER_PAGE = 20
GOOGLE_KEY = "AIza-test-key"


def token(user: str = USER) -> dict[str, str]:
    claims = {
        "sub": user,
        "exp": int(time.time()) + 3600,
        "aud": "authenticated",
        "role": "authenticated",
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


def config(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": {
            "kind": "http",
            "url": API,
            "results_path": "items",
            "row_key": "id",
            "pagination": {"style": "page", "size": PER_PAGE},
        },
        "credential": "acme",
        "page_delay_s": 2,
    }
    body.update(overrides)
    return body


def pages_api(
    total_pages: int, faults: dict[int, list[httpx.Response | Exception]] | None = None
) -> tuple[Callable[[httpx.Request], httpx.Response], list[int]]:
    """A page-numbered API of `total_pages` full pages; `faults[page]` answers first, in order."""
    faults = {page: list(answers) for page, answers in (faults or {}).items()}
    calls: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer acme-token"
        page = int(request.url.params["page"])
        calls.append(page)
        if faults.get(page):
            fault = faults[page].pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault
        items = (
            []
            if page > total_pages
            else [
                {"id": f"p{page}-{i}", "title": f"row {i} of page {page}"} for i in range(PER_PAGE)
            ]
        )
        return httpx.Response(200, json={"items": items, "page": page})

    return answer, calls


def query_settings() -> dict[str, Any]:
    """Settings overrides: the JWT secret, the `acme` credential (bound to the fake API's host)
    and a Google API key (bound to Google's API host by default)."""
    return {
        "supabase_jwt_secret": JWT_SECRET,
        "query_credentials": {"acme": "Bearer acme-token", "google": GOOGLE_KEY},
        "query_credential_hosts": {"acme": "api.acme.test"},
        "query_min_page_delay_s": 0,  # each test picks its delays; the floor has its own test
    }


HOLD_KEY = 4242
_HOLD_CHECKPOINT = """
create or replace function public.t_hold_checkpoint() returns trigger language plpgsql as $$
begin perform pg_advisory_xact_lock({key}); return new; end $$;
create trigger t_hold_checkpoint before update on public.queries for each row
    when (old.pages_completed = {page} - 1 and new.pages_completed = {page})
    execute function public.t_hold_checkpoint();
"""


async def kill_at_checkpoint(admin: asyncpg.Connection, *, page: int) -> asyncio.Task[int]:
    """Make the write of page `page` hang at its checkpoint (its rows already inserted, not
    committed), then kill that backend from `admin`: the process dies mid-transaction.

    Returns the task doing the kill (its result is the killed pid); later writes pass.
    """
    await admin.execute(_HOLD_CHECKPOINT.format(key=HOLD_KEY, page=page))
    await admin.execute("select pg_advisory_lock($1)", HOLD_KEY)

    async def kill() -> int:
        for _ in range(3000):
            pid = await admin.fetchval(
                "select pid from pg_stat_activity where wait_event_type = 'Lock'"
                " and wait_event = 'advisory' and datname = current_database()"
            )
            if pid is not None:
                assert await admin.fetchval("select pg_terminate_backend($1)", pid)
                await admin.execute("select pg_advisory_unlock($1)", HOLD_KEY)
                return int(pid)
            await asyncio.sleep(0.01)
        raise AssertionError(f"no write of page {page} reached its checkpoint")

    return asyncio.create_task(kill())


async def start_query(live: Live, body: dict[str, Any]) -> str:
    """`POST /api/queries/run` as USER; the new query's id (202 asserted)."""
    response = await live.api.post("/api/queries/run", json=body, headers=token())
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


async def query_status(live: Live, query_id: str) -> dict[str, Any]:
    """`GET /api/queries/{id}` as USER (200 asserted)."""
    response = await live.api.get(f"/api/queries/{query_id}", headers=token())
    assert response.status_code == 200, response.text
    return dict(response.json())


async def result_keys(live: Live, query_id: str) -> list[str]:
    """The query's stored row keys, in insertion order."""
    rows = await live.pool.fetch(
        "select row_key from query_results where query_id = $1 order by id", query_id
    )
    return [r["row_key"] for r in rows]
