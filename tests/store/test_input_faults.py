"""Issue 22: a store error caused by the input is a 4xx naming the field; 503 only when down."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

from inngest_app.routes.api import store_refusal
from inngest_app.settings import Settings
from inngest_app.store import PostgresTransport, StoreError, SupabaseTransport
from inngest_app.store.postgres import create_pool
from tests.harness import LiveFactory
from tests.queries.support import JWT_SECRET, token

SUPABASE_URL = "https://abcd.supabase.co"


async def _fault(transport: PostgresTransport, fn: str, args: dict[str, object]) -> StoreError:
    with pytest.raises(StoreError) as caught:
        await transport.call(fn, args)
    return caught.value


async def test_postgres_input_faults_name_the_argument(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        await pool.execute(
            "create function public.takes(p_n integer, p_t text) returns jsonb language sql "
            "as $$ select jsonb_build_object('n', p_n, 't', p_t) $$;"
            "create table public.uniq (k text primary key);"
            "create function public.put(p_k text) returns jsonb language sql "
            "as $$ insert into public.uniq values (p_k) returning to_jsonb(uniq) $$;"
        )
        transport = PostgresTransport(pool)
        past_int4 = await _fault(transport, "takes", {"p_n": 2**40, "p_t": "x"})
        assert past_int4.input_fault and past_int4.field == "n" and not past_int4.retriable
        nul = await _fault(transport, "takes", {"p_n": 1, "p_t": "a\x00b"})
        assert nul.input_fault and (nul.sqlstate or "").startswith("22")
        surrogate = await _fault(transport, "takes", {"p_n": 1, "p_t": "a\ud800"})
        assert surrogate.input_fault
        await transport.call("put", {"p_k": "a"})
        duplicate = await _fault(transport, "put", {"p_k": "a"})
        assert duplicate.input_fault and duplicate.sqlstate == "23505"
        missing = await _fault(transport, "no_such_function", {})
        assert not missing.input_fault  # the schema, not the input: never a 4xx
    finally:
        await pool.close()


def test_an_input_fault_is_a_4xx_and_the_rest_503() -> None:
    data = StoreError("x", retriable=False, sqlstate="22003", input_fault=True, field="n")
    answer = store_refusal(data, "/p")
    assert answer.status_code == 400 and b'"field":"n"' in answer.body
    conflict = StoreError("x", retriable=False, sqlstate="23505", input_fault=True)
    assert store_refusal(conflict, "/p").status_code == 409
    down = StoreError("x", retriable=True, sqlstate="08006", input_fault=True)
    assert store_refusal(down, "/p").status_code == 503  # retriable is never the input's
    schema = StoreError("x", retriable=False, sqlstate="42883")
    assert store_refusal(schema, "/p").status_code == 503


def _postgrest(status: int, code: str) -> httpx.Response:
    return httpx.Response(
        status, json={"code": code, "message": "m", "details": None, "hint": None}
    )


@respx.mock
@pytest.mark.parametrize(
    ("answer", "input_fault"),
    [
        (_postgrest(400, "22P02"), True),
        (_postgrest(400, "22021"), True),
        (_postgrest(409, "23505"), True),
        (_postgrest(400, "PGRST100"), True),
        (_postgrest(404, "PGRST202"), False),
        (_postgrest(401, "PGRST301"), False),
        (_postgrest(503, "PGRST000"), False),
        (_postgrest(500, "XX000"), False),
    ],
)
async def test_postgrest_4xx_about_values_is_an_input_fault(
    answer: httpx.Response, input_fault: bool
) -> None:
    respx.post(f"{SUPABASE_URL}/rest/v1/rpc/fn").mock(return_value=answer)
    async with httpx.AsyncClient() as http:
        transport = await SupabaseTransport.connect(
            url=SUPABASE_URL, service_role_key="service-role-key", http=http
        )
        with pytest.raises(StoreError) as caught:
            await transport.call("fn", {"p_a": 1})
    assert caught.value.input_fault is input_fault


async def test_a_store_refusal_reaches_the_client_as_a_400_naming_the_column(
    start_live: LiveFactory, make_settings: Callable[..., Settings]
) -> None:
    async with start_live(supabase_jwt_secret=JWT_SECRET) as live:
        # a database rule the edge does not know: the store's refusal names the column
        await live.pool.execute(
            "create or replace function public.workspace_create(p_owner_id text, p_name text,"
            " p_slug text, p_retention_days integer, p_max_per_owner integer) returns jsonb"
            " language plpgsql as $$ begin"
            " raise exception 'name is reserved' using errcode = '22023', column = 'name';"
            " end $$"
        )
        response = await live.api.post("/api/workspaces", json={"name": "x"}, headers=token())
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["code"] == "invalid_value" and body["field"] == "name"
        assert await live.pool.fetchval("select count(*) from workspaces") == 0
