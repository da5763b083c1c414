"""A real Postgres for tests: one embedded server per session, one fresh database per test.

The template database gets every migration once; each test clones it (`create database ...
template ...`, a file copy), so tests never share rows and never pay for migrations again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psycopg

from inngest_app.store.migrate import apply_migrations
from inngest_app.store.postgres import start_embedded

TEMPLATE = "inngest_app_template"


@dataclass
class PgCluster:
    """The session's server: its admin DSN and a way to make throwaway databases."""

    admin_dsn: str
    data_dir: Path

    def dsn(self, database: str) -> str:
        """The DSN of `database` on this server."""
        return self.admin_dsn.replace("/postgres?", f"/{database}?", 1)

    def _admin(self, sql: str) -> None:
        # A sync driver: admin statements run from sync fixtures and from inside async tests.
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(sql.encode())

    def create_template(self) -> None:
        """(Re)create the migrated template database."""

        self._admin(f"drop database if exists {TEMPLATE} with (force)")
        self._admin(f"create database {TEMPLATE}")

        async def build() -> None:
            conn = await asyncpg.connect(self.dsn(TEMPLATE))
            try:
                await apply_migrations(conn)
            finally:
                await conn.close()

        asyncio.run(build())

    @contextmanager
    def database(self, *, template: str = TEMPLATE) -> Iterator[str]:
        """A fresh database cloned from `template`; dropped afterwards. Yields its DSN."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self._admin(f"create database {name} template {template}")
        try:
            yield self.dsn(name)
        finally:
            self._admin(f"drop database if exists {name} with (force)")


def start_cluster(data_dir: Path) -> PgCluster:
    """Start the embedded server in `data_dir`."""
    return PgCluster(admin_dsn=start_embedded(data_dir), data_dir=data_dir)
