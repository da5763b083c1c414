"""Both transports call the same SQL functions: on real Postgres, and at Supabase's HTTP edge."""

from __future__ import annotations

import asyncio
import json
import uuid

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
    with pytest.raises(StoreError) as caught:
        await PostgresTransport(pool).call("app_ping_db", {})
    assert caught.value.retriable is True


# Functions that fail the way real calls do, each with Postgres's own error.
FAILING_FUNCTIONS = """
create table public.t_unique (id int primary key);
create function public.t_duplicate() returns jsonb language plpgsql as $$
begin insert into public.t_unique values (1), (1); return null; end $$;
create function public.t_not_null() returns jsonb language plpgsql as $$
begin insert into public.t_unique values (null); return null; end $$;
create function public.t_bad_cast(p_text text) returns jsonb language sql as
$$ select to_jsonb(p_text::integer) $$;
create function public.t_divide(p_n int) returns jsonb language sql as
$$ select to_jsonb(1 / p_n) $$;
create function public.t_serialization() returns jsonb language plpgsql as $$
begin raise exception 'could not serialize' using errcode = 'serialization_failure'; end $$;
create function public.t_sleep(p_s float8) returns jsonb language sql as
$$ select to_jsonb(pg_sleep(p_s)::text) $$;
"""


@pytest.mark.parametrize(
    ("fn", "args", "sqlstate", "retriable"),
    [
        ("boom", {}, "P0001", False),  # our functions' RAISE: bad input
        ("t_duplicate", {}, "23505", False),
        ("t_not_null", {}, "23502", False),
        ("t_bad_cast", {"p_text": "x"}, "22P02", False),
        ("t_divide", {"p_n": 0}, "22012", False),
        ("no_such_function", {}, "42883", False),
        ("t_divide", {"p_n": "1"}, "22000", False),  # asyncpg cannot encode the argument
        ("t_serialization", {}, "40001", True),
    ],
)
async def test_postgres_transport_classifies_real_errors(
    database_url: str, fn: str, args: dict[str, object], sqlstate: str, retriable: bool
) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        await pool.execute(FAILING_FUNCTIONS)
        await pool.execute(
            "create function public.boom() returns jsonb language plpgsql as "
            "$$ begin raise exception 'bad input: x'; end $$"
        )
        with pytest.raises(StoreError) as caught:
            await PostgresTransport(pool).call(fn, args)
        assert caught.value.retriable is retriable, caught.value
        cause = caught.value.__cause__
        assert getattr(cause, "sqlstate", None) == sqlstate, cause
    finally:
        await pool.close()


async def test_postgres_statement_timeout_is_retriable(database_url: str) -> None:
    pool = await asyncpg.create_pool(
        database_url, min_size=1, max_size=1, server_settings={"statement_timeout": "200"}
    )
    assert pool is not None
    try:
        await pool.execute(FAILING_FUNCTIONS)
        with pytest.raises(StoreError) as caught:
            await PostgresTransport(pool).call("t_sleep", {"p_s": 30})
        assert caught.value.retriable is True
        assert isinstance(caught.value.__cause__, asyncpg.exceptions.QueryCanceledError)
    finally:
        await pool.close()


async def test_postgres_too_many_connections_is_retriable(database_url: str) -> None:
    admin = await asyncpg.connect(database_url)
    try:
        role = f"t_limited_{uuid.uuid4().hex[:8]}"
        await admin.execute(f"create role {role} login connection limit 0")
        pool = await create_pool(
            database_url.replace("postgres:@", f"{role}:@", 1), min_size=0, max_size=1
        )
        try:
            with pytest.raises(StoreError) as caught:
                await PostgresTransport(pool).call("app_ping_db", {})
            assert caught.value.retriable is True
            assert isinstance(caught.value.__cause__, asyncpg.exceptions.TooManyConnectionsError)
        finally:
            await pool.close()
            await admin.execute(f"drop role {role}")
    finally:
        await admin.close()


async def test_postgres_connection_lost_mid_call_is_retriable(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(FAILING_FUNCTIONS)
        call = asyncio.create_task(PostgresTransport(pool).call("t_sleep", {"p_s": 30}))
        pid = None
        while pid is None and not call.done():
            await asyncio.sleep(0.05)
            pid = await admin.fetchval(
                "select pid from pg_stat_activity where query like '%t_sleep%' and pid <> "
                "pg_backend_pid() and datname = current_database()"
            )
        assert await admin.fetchval("select pg_terminate_backend($1)", pid)
        with pytest.raises(StoreError) as caught:
            await call
        assert caught.value.retriable is True, caught.value
        # the pool reconnects: the next call goes through
        assert (await PostgresTransport(pool).call("app_ping_db", {}))["ok"] is True
    finally:
        await admin.close()
        await pool.close()


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


def _postgrest(status: int, code: str, message: str, details: str | None = None) -> httpx.Response:
    """An error as PostgREST writes it (docs.postgrest.org, references/errors)."""
    body = {"code": code, "details": details, "hint": None, "message": message}
    return httpx.Response(status, json=body)


SUPABASE_ERRORS = [
    # connection and availability: PostgREST's group 0, Postgres's 08/53/57/40, gateways
    pytest.param(
        _postgrest(
            503,
            "PGRST000",
            "Database connection error. Retrying the connection.",
            'connection to server at "db.abcd.supabase.co", port 5432 failed: Connection refused',
        ),
        True,
        id="503-PGRST000-db-down",
    ),
    pytest.param(
        _postgrest(503, "PGRST001", "Database client error. Retrying the connection."),
        True,
        id="503-PGRST001",
    ),
    pytest.param(
        _postgrest(503, "PGRST002", "Could not query the database for the schema cache."),
        True,
        id="503-PGRST002-schema-cache",
    ),
    pytest.param(
        _postgrest(504, "PGRST003", "Timed out acquiring connection from connection pool."),
        True,
        id="504-PGRST003-pool-timeout",
    ),
    pytest.param(
        _postgrest(503, "08006", "server closed the connection unexpectedly"),
        True,
        id="503-08006",
    ),
    pytest.param(_postgrest(503, "53300", "sorry, too many clients already"), True, id="503-53300"),
    pytest.param(
        _postgrest(500, "57014", "canceling statement due to statement timeout"),
        True,
        id="500-57014-statement-timeout",
    ),
    pytest.param(
        _postgrest(500, "40001", "could not serialize access due to concurrent update"),
        True,
        id="500-40001",
    ),
    pytest.param(
        _postgrest(500, "PGRSTX00", "Internal error in the database library"),
        True,
        id="500-PGRSTX00",
    ),
    pytest.param(
        httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>"),
        True,
        id="502-html-gateway",
    ),
    pytest.param(
        httpx.Response(
            502, json={"message": "An invalid response was received from the upstream server"}
        ),
        True,
        id="502-json-without-code",
    ),
    pytest.param(httpx.Response(520, text="error code: 520"), True, id="520-cloudflare"),
    pytest.param(httpx.ConnectError("connection refused"), True, id="connect-error"),
    pytest.param(httpx.ReadTimeout("timed out"), True, id="read-timeout"),
    # the call itself is wrong: constraints, bad input, function not found, auth
    pytest.param(
        _postgrest(409, "23505", 'duplicate key value violates unique constraint "pings_pkey"'),
        False,
        id="409-23505-unique",
    ),
    pytest.param(
        _postgrest(400, "23502", 'null value in column "step" violates not-null constraint'),
        False,
        id="400-23502-not-null",
    ),
    pytest.param(
        _postgrest(400, "22P02", 'invalid input syntax for type integer: "x"'),
        False,
        id="400-22P02",
    ),
    pytest.param(_postgrest(400, "P0001", "bad input: x"), False, id="400-P0001-raise"),
    pytest.param(
        _postgrest(
            404,
            "PGRST202",
            "Could not find the function public.record_ping(p_message, p_run_id, p_step) "
            "in the schema cache",
            "Searched for the function public.record_ping with parameters p_message, p_run_id, "
            "p_step or with a single unnamed json/jsonb parameter, but no matches were found.",
        ),
        False,
        id="404-PGRST202-function-not-found",
    ),
    pytest.param(
        _postgrest(404, "42883", "function public.record_ping(text) does not exist"),
        False,
        id="404-42883-undefined-function",
    ),
    pytest.param(
        _postgrest(401, "PGRST301", "JWSError JWSInvalidSignature"), False, id="401-PGRST301"
    ),
    pytest.param(
        _postgrest(403, "42501", "permission denied for function record_ping"),
        False,
        id="403-42501",
    ),
    pytest.param(
        httpx.Response(401, json={"message": "Invalid API key"}), False, id="401-json-without-code"
    ),
]


@respx.mock
@pytest.mark.parametrize(("answer", "retriable"), SUPABASE_ERRORS)
async def test_supabase_transport_classifies_postgrest_errors(
    answer: httpx.Response | Exception, retriable: bool
) -> None:
    respx.post(f"{SUPABASE_URL}/rest/v1/rpc/record_ping").mock(side_effect=[answer])
    async with httpx.AsyncClient() as http:
        transport = await SupabaseTransport.connect(
            url=SUPABASE_URL, service_role_key=SERVICE_KEY, http=http
        )
        args = {"p_run_id": "r", "p_step": "s", "p_message": "m"}
        with pytest.raises(StoreError) as caught:
            await transport.call("record_ping", args)
    assert caught.value.retriable is retriable, caught.value
    if isinstance(answer, httpx.Response) and "json" in answer.headers.get("content-type", ""):
        assert answer.json()["message"] in str(caught.value)


@respx.mock
async def test_supabase_transport_status_is_per_call() -> None:
    """A code-less body is judged by its own response's status, not an earlier call's."""
    respx.post(f"{SUPABASE_URL}/rest/v1/rpc/record_ping").mock(
        side_effect=[
            httpx.Response(503, json={"message": "upstream unavailable"}),
            httpx.Response(404, json={"message": "no Route matched with those values"}),
        ]
    )
    async with httpx.AsyncClient() as http:
        transport = await SupabaseTransport.connect(
            url=SUPABASE_URL, service_role_key=SERVICE_KEY, http=http
        )
        again = await SupabaseTransport.connect(
            url=SUPABASE_URL, service_role_key=SERVICE_KEY, http=http
        )
        assert http.event_hooks["response"].count(http.event_hooks["response"][0]) == 1
        args = {"p_run_id": "r", "p_step": "s", "p_message": "m"}
        with pytest.raises(StoreError) as first:
            await transport.call("record_ping", args)
        with pytest.raises(StoreError) as second:
            await again.call("record_ping", args)
    assert (first.value.retriable, second.value.retriable) == (True, False)
