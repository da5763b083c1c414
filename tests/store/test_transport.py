"""Both transports call the same SQL functions: on real Postgres, and at Supabase's HTTP edge."""

from __future__ import annotations

import json

import asyncpg
import httpx
import pytest
import respx

from inngest_app.repos.pings import PingsRepo
from inngest_app.store import PostgresTransport, StoreError, SupabaseTransport
from inngest_app.store.postgres import create_pool

SUPABASE_URL = "https://abcd.supabase.co"
SERVICE_KEY = "service-role-key-for-tests"


async def test_postgres_transport_runs_the_sql_function(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        repo = PingsRepo(PostgresTransport(pool))
        first = await repo.record(run_id="run-1", step="ping", message="hello")
        again = await repo.record(run_id="run-1", step="ping", message="hello")
        assert first.message == "hello" and again.run_id == "run-1"
        assert await pool.fetchval("select count(*) from pings") == 1
    finally:
        await pool.close()


async def test_postgres_transport_classifies_errors(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        transport = PostgresTransport(pool)
        await pool.execute(
            "create function public.boom() returns jsonb language plpgsql as "
            "$$ begin raise exception 'bad input: x'; end $$"
        )
        with pytest.raises(StoreError) as caught:
            await transport.call("boom", {})
        assert caught.value.retriable is False and "bad input: x" in str(caught.value)
        with pytest.raises(ValueError, match="not a SQL identifier"):
            await transport.call("boom; drop table pings", {})
    finally:
        await pool.close()


async def test_postgres_transport_unreachable_is_retriable(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=0, max_size=1)
    await pool.close()
    with pytest.raises((StoreError, asyncpg.InterfaceError)):
        await PostgresTransport(pool).call("app_ping_db", {})


@respx.mock
async def test_supabase_transport_posts_rpc_as_postgrest_expects() -> None:
    route = respx.post(f"{SUPABASE_URL}/rest/v1/rpc/record_ping").mock(
        return_value=httpx.Response(
            200,
            json={
                "run_id": "r1",
                "step": "ping",
                "message": "hi",
                "recorded_at": "2026-11-22T10:00:00+00:00",
            },
        )
    )
    async with httpx.AsyncClient() as http:
        transport = await SupabaseTransport.connect(
            url=SUPABASE_URL, service_role_key=SERVICE_KEY, http=http
        )
        record = await PingsRepo(transport).record(run_id="r1", step="ping", message="hi")
    assert record.step == "ping"
    request = route.calls.last.request
    assert request.headers["apikey"] == SERVICE_KEY
    assert request.headers["authorization"] == f"Bearer {SERVICE_KEY}"
    assert request.headers["content-type"].startswith("application/json")
    assert json.loads(request.content) == {"p_run_id": "r1", "p_step": "ping", "p_message": "hi"}


@respx.mock
async def test_supabase_transport_maps_postgrest_errors() -> None:
    respx.post(f"{SUPABASE_URL}/rest/v1/rpc/record_ping").mock(
        side_effect=[
            httpx.Response(
                400,
                json={"code": "P0001", "message": "bad input: x", "details": None, "hint": None},
            ),
            httpx.Response(
                503, json={"code": "PGRST000", "message": "db down", "details": None, "hint": None}
            ),
            httpx.ConnectError("refused"),
        ]
    )
    async with httpx.AsyncClient() as http:
        transport = await SupabaseTransport.connect(
            url=SUPABASE_URL, service_role_key=SERVICE_KEY, http=http
        )
        args = {"p_run_id": "r", "p_step": "s", "p_message": "m"}
        with pytest.raises(StoreError) as permanent:
            await transport.call("record_ping", args)
        assert permanent.value.retriable is False
        with pytest.raises(StoreError) as down:
            await transport.call("record_ping", args)
        with pytest.raises(StoreError) as refused:
            await transport.call("record_ping", args)
        assert refused.value.retriable is True
        assert "db down" in str(down.value)
