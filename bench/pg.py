"""A throwaway embedded Postgres with the migrated schema, for benchmarks."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psycopg

from inngest_app.store.migrate import apply_migrations
from inngest_app.store.postgres import start_embedded, stop_embedded


@contextlib.contextmanager
def migrated_database() -> Iterator[str]:
    """Start an embedded server in a temp dir, create and migrate a database, yield its DSN;
    the server is stopped and the directory removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-pg-") as tmp:
        admin = start_embedded(Path(tmp))
        try:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(b"create database bench")
            dsn = admin.replace("/postgres?", "/bench?", 1)

            async def migrate() -> None:
                conn = await asyncpg.connect(dsn)
                try:
                    await apply_migrations(conn)
                finally:
                    await conn.close()

            asyncio.run(migrate())
            yield dsn
        finally:
            # stopped before its directory goes: the wheel's exit hook would find nothing
            stop_embedded(Path(tmp))
