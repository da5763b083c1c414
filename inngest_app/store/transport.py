"""The two transports that call the SQL functions of the migrations."""

from __future__ import annotations

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


class StoreError(Exception):
    """A data operation failed; `retriable` says whether trying again can help."""

    def __init__(self, message: str, *, retriable: bool) -> None:
        super().__init__(message)
        self.retriable = retriable


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
        except asyncpg.exceptions.RaiseError as exc:
            # Our SQL functions raise with a message meant for the caller: bad input, not a fault.
            raise StoreError(f"{fn}: {exc}", retriable=False) from exc
        except (
            asyncpg.exceptions.DataError,
            asyncpg.exceptions.IntegrityConstraintViolationError,
            asyncpg.exceptions.SyntaxOrAccessError,
        ) as exc:
            raise StoreError(f"{fn}: {exc}", retriable=False) from exc
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"{fn}: database unavailable: {exc}", retriable=True) from exc


class SupabaseTransport:
    """Calls the same SQL functions through supabase-py's `rpc`, i.e. PostgREST's `/rest/v1/rpc/fn`.

    Built from an injected `httpx.AsyncClient` (supabase-py hands it to postgrest-py), so tests pin
    the request at the HTTP edge with respx.
    """

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    @classmethod
    async def connect(
        cls, *, url: str, service_role_key: str, http: httpx.AsyncClient
    ) -> SupabaseTransport:
        """A transport whose supabase client authenticates as the service role."""
        options = AsyncClientOptions(httpx_client=http, auto_refresh_token=False)
        return cls(await acreate_client(url, service_role_key, options=options))

    async def call(self, fn: str, args: Mapping[str, Any]) -> Any:
        params = json.loads(dumps(dict(args)))
        try:
            response = await self._client.rpc(_checked(fn), params).execute()
        except httpx.TransportError as exc:
            raise StoreError(f"{fn}: Supabase unreachable: {exc}", retriable=True) from exc
        except APIError as exc:
            # SQLSTATE classes 22/23/42 and P0 (RAISE) are the caller's fault; the rest are faults.
            code = exc.code or ""
            permanent = code[:2] in {"22", "23", "42", "P0"} or code.startswith("PGRST")
            raise StoreError(f"{fn}: {exc.message}", retriable=not permanent) from exc
        return response.data
