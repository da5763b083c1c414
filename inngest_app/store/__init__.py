"""Storage: one Postgres schema (migrations/), reached through one of two thin transports.

Every data operation a function needs is a SQL function defined in the migrations. A repository
(`inngest_app.repos.*`) calls it through a `Transport`: `PostgresTransport` runs
`select fn(arg => $1, ...)` on an asyncpg pool, `SupabaseTransport` posts the same arguments to
PostgREST's `/rest/v1/rpc/fn`. The data logic exists once, in SQL.
"""

from inngest_app.store.transport import PostgresTransport, StoreError, SupabaseTransport, Transport

__all__ = ["PostgresTransport", "StoreError", "SupabaseTransport", "Transport"]
