"""Migrations apply to an empty database, in order, once."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from inngest_app.store.migrate import MigrationError, apply_migrations, discover
from tests.pg import PgCluster

TABLES_SQL = "select tablename, rowsecurity from pg_tables where schemaname = 'public' order by 1"


async def test_apply_to_empty_database_then_noop(pg: PgCluster) -> None:
    with pg.database(template="template0") as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            first = await apply_migrations(conn)
            assert first == [m.path.name for m in discover()]
            assert first, "the project has migrations"
            tables_before = await conn.fetch(TABLES_SQL)
            second = await apply_migrations(conn)
            assert second == []
            recorded = await conn.fetchval("select count(*) from schema_migrations")
            assert recorded == len(first)
            tables_after = await conn.fetch(TABLES_SQL)
            assert tables_after == tables_before
            # RLS is on for every table (Supabase's anon role must see nothing by default).
            assert all(row["rowsecurity"] for row in tables_after), tables_after
        finally:
            await conn.close()


async def test_failed_migration_rolls_back_and_is_not_recorded(
    pg: PgCluster, tmp_path: Path
) -> None:
    (tmp_path / "20990101000000_good.sql").write_text("create table good (id int);")
    (tmp_path / "20990101000001_bad.sql").write_text(
        "create table half (id int); select no_such_function();"
    )
    with pg.database(template="template0") as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            with pytest.raises(MigrationError, match="20990101000001_bad.sql"):
                await apply_migrations(conn, tmp_path)
            names = {r["tablename"] for r in await conn.fetch("select tablename from pg_tables")}
            assert "good" in names and "half" not in names
            versions = [
                r["version"] for r in await conn.fetch("select version from schema_migrations")
            ]
            assert versions == ["20990101000000"]
        finally:
            await conn.close()


def test_misnamed_migration_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "001_init.sql").write_text("select 1;")
    with pytest.raises(MigrationError, match="001_init.sql"):
        discover(tmp_path)
