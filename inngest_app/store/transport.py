"""The two transports that call the SQL functions of the migrations."""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

import asyncpg
import httpx
from postgrest.exceptions import APIError
from supabase import AsyncClient, AsyncClientOptions, acreate_client

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")
_HTTP_STATUS = re.compile(r"^[1-5][0-9]{2}$")

# SQLSTATE classes that say the call itself is wrong, so trying it again cannot help: feature
# not supported, cardinality, data, integrity constraint, SQL routine, syntax or access (42883
# "function does not exist" included), WITH CHECK OPTION, program limit, PL/pgSQL (P0001 is a
# RAISE in our functions). Every other class is the server's state (08 connection, 40
# serialization/deadlock, 53 resources, 55 lock not available, 57 shutdown or statement
# timeout, 58 I/O, XX internal, 25 read-only during a failover...) and is worth a retry.
_PERMANENT_CLASSES = frozenset({"0A", "21", "22", "23", "2F", "42", "44", "54", "P0"})


class StoreError(Exception):
    """A data operation failed; `retriable` says whether trying again can help.

    `input_fault` says the call's input caused it (SQLSTATE class 22 data or 23 integrity, an
    argument the driver cannot encode, a PostgREST 4xx about the request): a caller's 4xx, never
    a 503. `field` names the SQL argument at fault when the error says which (`p_` dropped).
    """

    def __init__(
        self,
        message: str,
        *,
        retriable: bool,
        sqlstate: str | None = None,
        input_fault: bool = False,
        field: str | None = None,
        reason: str = "",
    ) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.sqlstate = sqlstate
        self.input_fault = input_fault and not retriable
        self.field = field
        self.reason = reason[:200]


_INPUT_CLASSES = frozenset({"22", "23"})
_ARGUMENT = re.compile(r"query argument \$(\d+)")


def input_sqlstate(sqlstate: str | None) -> bool:
    """Whether an error with this SQLSTATE was caused by the values passed (data, integrity)."""
    return bool(sqlstate) and (sqlstate or "")[:2].upper() in _INPUT_CLASSES


def _argument(message: str, names: tuple[str, ...]) -> str | None:
    """The argument an asyncpg message points at (`query argument $3`), without its `p_`."""
    match = _ARGUMENT.search(message)
    if match is None or not 1 <= int(match.group(1)) <= len(names):
        return None
    return names[int(match.group(1)) - 1].removeprefix("p_")


def sqlstate_retriable(sqlstate: str) -> bool:
    """Whether an error with this SQLSTATE may succeed when the same call is made again."""
    return sqlstate[:2].upper() not in _PERMANENT_CLASSES


def status_retriable(status: int | None) -> bool:
    """Whether an HTTP error status may clear up by itself (5xx, 408, 429; unknown: yes)."""
    return status is None or status >= 500 or status in (408, 429)


def postgrest_retriable(code: str | None, status: int | None) -> bool:
    """Classify a PostgREST error by its `code`, else by the HTTP status.

    PostgREST forwards Postgres errors with their SQLSTATE and raises its own as `PGRSTgxx`:
    group 0 is the connection to the database (PGRST000-002 unavailable, 503; PGRST003 pool
    timeout, 504) and X is internal, both retriable; groups 1 (request), 2 (schema cache,
    PGRST202 "function not found") and 3 (JWT) are not. `PTxyz` carries status xyz. A body
    without a code (a gateway's error page, or postgrest-py's stand-in that puts the status
    in `code`) is judged by the status.
    """
    code = code or ""
    if code.startswith("PGRST"):
        group = code[5:6]
        if group in ("0", "X"):
            return True
        if group in ("1", "2", "3"):
            return False
    elif code.startswith("PT") and _HTTP_STATUS.match(code[2:]):
        return status_retriable(int(code[2:]))
    elif _SQLSTATE.match(code):
        return sqlstate_retriable(code)
    elif status is None and _HTTP_STATUS.match(code):
        status = int(code)
    return status_retriable(status)


def postgrest_input_fault(code: str | None, status: int | None) -> bool:
    """Whether PostgREST says the request's values were at fault: a forwarded SQLSTATE of class
    22/23, or a 400/409/422 that is not about the schema (PGRST2xx) or the JWT (PGRST3xx)."""
    code = code or ""
    if _SQLSTATE.match(code):
        return input_sqlstate(code)
    if code.startswith(("PGRST2", "PGRST3")):
        return False
    return status in (400, 409, 422)


class Transport(Protocol):
    """Calls one SQL function with named arguments and returns its (JSON-decoded) result."""

    async def call(self, fn: str, args: Mapping[str, Any]) -> Any:
        """Run `fn(**args)` in its own transaction and return the decoded result."""
        ...


def _checked(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a SQL identifier: {name!r}")
    return name


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> str:
    """JSON-encode with the conversions both transports share (datetimes, decimals, UUIDs)."""
    return json.dumps(value, default=_json_default, separators=(",", ":"))


async def init_connection(conn: asyncpg.Connection) -> None:
    """Per-connection setup: json/jsonb travel as Python values."""
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(typename, encoder=dumps, decoder=json.loads, schema="pg_catalog")


class PostgresTransport:
    """Calls SQL functions over an asyncpg pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._statements: dict[tuple[str, tuple[str, ...]], str] = {}

    def _statement(self, fn: str, names: tuple[str, ...]) -> str:
        key = (fn, names)
        statement = self._statements.get(key)
        if statement is None:
            params = ", ".join(f"{_checked(n)} => ${i}" for i, n in enumerate(names, start=1))
            statement = f"select public.{_checked(fn)}({params})"  # noqa: S608 (identifiers checked)
            self._statements[key] = statement
        return statement

    async def call(self, fn: str, args: Mapping[str, Any]) -> Any:
        names = tuple(args)
        try:
            return await self._pool.fetchval(self._statement(fn, names), *args.values())
        except asyncpg.PostgresError as exc:
            # the server's SQLSTATE; a lost connection is class 08 (ConnectionDoesNotExistError)
            sqlstate = exc.sqlstate or ""
            if sqlstate_retriable(sqlstate):
                raise StoreError(f"{fn}: database unavailable: {exc}", retriable=True) from exc
            raise StoreError(
                f"{fn}: {exc}",
                retriable=False,
                sqlstate=sqlstate,
                input_fault=input_sqlstate(sqlstate),
                # the column a RAISE names, or the argument asyncpg could not encode
                field=getattr(exc, "column_name", None) or _argument(str(exc), names),
                reason=str(getattr(exc, "message", "") or exc),
            ) from exc
        except asyncpg.InterfaceError as exc:
            # client side: an argument it cannot encode is bad input (a ValueError); a closed
            # connection or pool is not
            if isinstance(exc, ValueError):
                raise StoreError(
                    f"{fn}: {exc}",
                    retriable=False,
                    sqlstate="22000",
                    input_fault=True,
                    field=_argument(str(exc), names),
                    reason=str(exc),
                ) from exc
            raise StoreError(f"{fn}: database unavailable: {exc}", retriable=True) from exc
        except (OSError, TimeoutError) as exc:
            raise StoreError(f"{fn}: database unavailable: {exc}", retriable=True) from exc
        except (UnicodeError, OverflowError) as exc:  # an argument that cannot be encoded
            raise StoreError(
                f"{fn}: {exc}", retriable=False, sqlstate="22000", input_fault=True, reason=str(exc)
            ) from exc


# The HTTP status of the last response the current task received: postgrest-py's APIError
# keeps the body's code but drops the status, which a gateway's code-less error needs.
_last_status: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "supabase_last_status", default=None
)


async def _note_status(response: httpx.Response) -> None:
    _last_status.set(response.status_code)


class SupabaseTransport:
    """Calls the same SQL functions through supabase-py's `rpc`, i.e. PostgREST's `/rest/v1/rpc/fn`.

    Built from an injected `httpx.AsyncClient` (supabase-py hands it to postgrest-py), so tests pin
    the request at the HTTP edge with respx. Errors are classified by PostgREST's code and the
    HTTP status (`postgrest_retriable`).
    """

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @classmethod
    async def connect(
        cls, *, url: str, service_role_key: str, http: httpx.AsyncClient
    ) -> SupabaseTransport:
        """A transport whose supabase client authenticates as the service role."""
        hooks = http.event_hooks
        if _note_status not in hooks["response"]:  # a response hook sees every status
            http.event_hooks = {**hooks, "response": [*hooks["response"], _note_status]}
        options = AsyncClientOptions(httpx_client=http, auto_refresh_token=False)
        return cls(await acreate_client(url, service_role_key, options=options))

    async def call(self, fn: str, args: Mapping[str, Any]) -> Any:
        params = json.loads(dumps(dict(args)))
        token = _last_status.set(None)
        try:
            response = await self._client.rpc(_checked(fn), params).execute()
        except httpx.TransportError as exc:  # refused, reset, timed out
            raise StoreError(f"{fn}: Supabase unreachable: {exc}", retriable=True) from exc
        except APIError as exc:
            status = _last_status.get()
            retriable = postgrest_retriable(exc.code, status)
            detail = f"{exc.message} ({exc.code or 'no code'}, HTTP {status or '?'})"
            raise StoreError(
                f"{fn}: {detail}",
                retriable=retriable,
                sqlstate=exc.code,
                input_fault=postgrest_input_fault(exc.code, status),
                reason=str(exc.message or ""),
            ) from exc
        finally:
            _last_status.reset(token)
        return response.data
