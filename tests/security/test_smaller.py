"""Issue 9, point 9: the smaller ones, each performed against the app under uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import jwt
import psycopg
import pytest

from inngest_app.store.migrate import apply_migrations, discover
from tests.harness import Live, LiveFactory
from tests.pg import PgCluster
from tests.queries.support import API, JWT_SECRET, USER, config, pages_api, query_settings, token
from tests.stripe.support import SECRET as WEBHOOK_SECRET
from tests.stripe.support import signed, wrap

STATS = "/api/inngest/monitoring"
ADMIN = "admin-key-0123456789"
LIVE_KEY = "sk_live_" + "9" * 24


def short_token(seconds: float) -> dict[str, str]:
    claims = {
        "sub": USER,
        "exp": int(time.time() + seconds),
        "aud": "authenticated",
        "role": "authenticated",
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


async def start_query(live: Live) -> str:
    answer, _ = pages_api(3)
    live.mock.get(API).mock(side_effect=answer)
    response = await live.api.post("/api/queries/run", json=config(), headers=token())
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


@contextlib.asynccontextmanager
async def open_stream(live: Live, query_id: str, headers: dict[str, str]) -> AsyncIterator[Any]:
    async with live.api.stream(
        "GET", f"/api/queries/{query_id}/stream", headers=headers
    ) as response:
        yield response


async def test_progress_streams_are_capped_per_user(start_live: LiveFactory) -> None:
    async with start_live(**query_settings(), query_streams_per_user=2) as live:
        query_id = await start_query(live)  # never run here: its stream stays open
        async with (
            open_stream(live, query_id, token()) as first,
            open_stream(live, query_id, token()) as second,
        ):
            assert first.status_code == second.status_code == 200
            third = await live.api.get(f"/api/queries/{query_id}/stream", headers=token())
            assert third.status_code == 429 and third.json()["code"] == "too_many_streams"
        # Closed streams give their places back (the server notices the disconnect soon).
        for _ in range(100):
            async with open_stream(live, query_id, token()) as again:
                if again.status_code == 200:
                    break
            await asyncio.sleep(0.05)
        assert again.status_code == 200


async def test_a_stream_ends_when_the_token_expires(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        query_id = await start_query(live)
        lines: list[str] = []
        async with open_stream(live, query_id, short_token(2)) as stream:
            assert stream.status_code == 200
            async for line in stream.aiter_lines():  # ends by itself, or the test times out
                lines.append(line)
        assert lines[0] == "event: progress"
        assert "event: expired" in lines and '"code": "token_expired"' in lines[-2]


async def test_absurd_stats_windows_are_400(start_live: LiveFactory) -> None:
    async with start_live(monitoring_api_key=ADMIN) as live:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        for params in (
            {"endDate": "9999-12-31"},
            {"endDate": "0001-01-02"},
            {"startDate": "2000-01-01", "endDate": "2026-01-01"},
            {"startDate": "2025-01-01", "endDate": "2026-01-03"},  # 367 days
        ):
            answer = await live.api.get(STATS, params=params, headers=admin)
            assert answer.status_code == 400, (params, answer.text)
            assert answer.json()["code"] == "invalid_parameter"
        year = {"startDate": "2025-01-01", "endDate": "2025-12-31"}
        assert (await live.api.get(STATS, params=year, headers=admin)).status_code == 200


async def test_stats_do_not_queue_behind_a_rollup_refresh(
    start_live: LiveFactory, database_url: str
) -> None:
    async with start_live(monitoring_api_key=ADMIN) as live:
        holder = await asyncpg.connect(database_url)
        try:
            # A refresh under way elsewhere holds the rollup state's row lock until it commits.
            async with holder.transaction():
                await holder.execute("select * from execution_rollup_state for update")
                answer = await asyncio.wait_for(
                    live.api.get(STATS, headers={"Authorization": f"Bearer {ADMIN}"}), 30
                )
                assert answer.status_code == 200, answer.text
                waiting = await holder.fetchval(
                    "select count(*) from pg_locks where not granted and database = "
                    "(select oid from pg_database where datname = current_database())"
                )
                assert waiting == 0
        finally:
            await holder.close()


async def test_metrics_need_the_token_when_one_is_set(start_live: LiveFactory) -> None:
    async with start_live(metrics_token="metrics-token-0123456789") as live:
        assert (await live.api.get("/metrics")).status_code == 401
        wrong = await live.api.get("/metrics", headers={"Authorization": "Bearer guess"})
        assert wrong.status_code == 401 and wrong.json()["code"] == "unauthorized"
        right = await live.api.get(
            "/metrics", headers={"Authorization": "Bearer metrics-token-0123456789"}
        )
        assert right.status_code == 200 and "# TYPE" in right.text


def sandbox_payment_event(event_id: str) -> dict[str, Any]:
    payment = {
        "id": "pi_testmode1",
        "object": "payment_intent",
        "amount": 5000,
        "amount_received": 5000,
        "currency": "usd",
        "status": "succeeded",
        "metadata": {"userId": "attacker"},
        "livemode": False,
    }
    return wrap(payment, "payment_intent.succeeded", event_id=event_id, created=int(time.time()))


async def billing_rows(live: Live) -> int:
    return int(
        await live.pool.fetchval(
            "select (select count(*) from payments) + (select count(*) from subscriptions)"
            " + (select count(*) from stripe_events) + (select count(*) from stripe_deliveries)"
        )
    )


async def test_a_test_mode_event_changes_no_billing_in_a_live_deployment(
    start_live: LiveFactory,
) -> None:
    async with start_live(
        cloud=True, stripe_api_key=LIVE_KEY, stripe_webhook_secret=WEBHOOK_SECRET
    ) as live:
        body, headers = signed(sandbox_payment_event("evt_testmode_1"))
        answer = await live.api.post("/api/stripe/webhook", content=body, headers=headers)
        assert answer.status_code == 400 and answer.json()["code"] == "test_event_refused"
        assert live.executor.events == []
        # Sent to Inngest by other means (a replay, a direct send): the function refuses it.
        event = sandbox_payment_event("evt_testmode_2")
        await live.executor.send(
            {
                "name": "stripe/payment_intent.succeeded",
                "data": {
                    **{k: event[k] for k in ("id", "type", "created", "livemode", "api_version")},
                    "object": event["data"]["object"],
                },
            }
        )
        await live.executor.run_until_idle()
        [run] = live.executor.runs("process-payment-succeeded")
        assert run.status == "failed" and "test-mode event" in str(run.error)
        assert await billing_rows(live) == 0


async def test_test_mode_events_apply_when_allowed(start_live: LiveFactory) -> None:
    async with start_live(
        cloud=True,
        stripe_api_key=LIVE_KEY,
        stripe_webhook_secret=WEBHOOK_SECRET,
        stripe_allow_test_events=True,
    ) as live:
        body, headers = signed(sandbox_payment_event("evt_testmode_3"))
        answer = await live.api.post("/api/stripe/webhook", content=body, headers=headers)
        assert answer.status_code == 200, answer.text
        await live.executor.run_until_idle()
        [run] = live.executor.runs("process-payment-succeeded")
        assert run.status == "completed", run.error
        assert await live.pool.fetchval("select count(*) from payments") == 1


SUPABASE_ROLES = ("anon", "authenticated", "service_role")
PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
# A migration written later by someone else: the lock-down every migration ends with covers it.
LATER_MIGRATION = """
create table public.later_things (id bigint generated always as identity primary key);
alter table public.later_things enable row level security;
create function public.later_count() returns bigint language sql as $$
    select count(*) from public.later_things $$;
select public.app_lock_down_functions();
"""


def admin(pg: PgCluster, statements: list[str]) -> None:
    # Roles are the cluster's: made for this test only, dropped after it (its database first).
    with psycopg.connect(pg.admin_dsn, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode())


async def test_on_supabase_client_roles_get_nothing_and_functions_pin_search_path(
    pg: PgCluster, tmp_path: Path
) -> None:
    for name in discover():
        shutil.copy(name.path, tmp_path / name.path.name)
    (tmp_path / "20991231000000_later.sql").write_text(LATER_MIGRATION)
    admin(pg, [f"create role {role} nologin" for role in SUPABASE_ROLES])
    try:
        with pg.database(template="template0") as dsn:
            conn = await asyncpg.connect(dsn)
            try:
                # What a Supabase project grants on whatever its `postgres` role creates.
                await conn.execute(
                    "grant usage on schema public to anon, authenticated, service_role;"
                    "alter default privileges in schema public"
                    " grant all on tables to anon, authenticated, service_role;"
                    "alter default privileges in schema public"
                    " grant all on sequences to anon, authenticated, service_role;"
                    "alter default privileges in schema public"
                    " grant execute on functions to anon, authenticated, service_role;"
                )
                await apply_migrations(conn, tmp_path)
                tables = [
                    r["t"]
                    for r in await conn.fetch(
                        "select format('public.%I', tablename) as t from pg_tables"
                        " where schemaname = 'public'"
                    )
                ]
                assert "public.later_things" in tables and "public.queries" in tables
                for table in tables:
                    for role in ("anon", "authenticated"):
                        for privilege in PRIVILEGES:
                            assert not await conn.fetchval(
                                "select has_table_privilege($1, $2, $3)", role, table, privilege
                            ), (role, table, privilege)
                    assert await conn.fetchval(
                        "select has_table_privilege('service_role', $1, 'SELECT')", table
                    )
                functions = await conn.fetch(
                    "select p.oid::regprocedure::text as name, p.proconfig from pg_proc p"
                    " join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public'"
                )
                assert any(f["name"] == "later_count()" for f in functions)
                for fn in functions:
                    assert "search_path=public, pg_temp" in (fn["proconfig"] or []), fn
                    for role in ("anon", "authenticated"):
                        assert not await conn.fetchval(
                            "select has_function_privilege($1, $2::regprocedure, 'EXECUTE')",
                            role,
                            fn["name"],
                        ), (role, fn["name"])
                # The attack itself: a client role empties a table RLS cannot protect.
                async with conn.transaction():
                    await conn.execute("set local role anon")
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        await conn.execute("truncate public.queries")
            finally:
                await conn.close()
    finally:
        admin(pg, [f"drop role if exists {role}" for role in SUPABASE_ROLES])
