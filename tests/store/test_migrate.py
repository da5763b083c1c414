"""Migrations apply to an empty database, in order, once."""

from __future__ import annotations

import asyncio
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


SUPABASE_ROLES = ("anon", "authenticated", "service_role")
PUBLIC_FUNCTIONS_SQL = """
select p.oid, p.oid::regprocedure::text as signature
  from pg_proc p join pg_namespace n on n.oid = p.pronamespace
 where n.nspname = 'public' and p.prokind = 'f' and pg_get_userbyid(p.proowner) = current_user
"""


async def test_supabase_roles_cannot_execute_the_functions(pg: PgCluster) -> None:
    """With Supabase's roles, and its default of granting EXECUTE on new functions to anon and
    authenticated, every function of the migrations ends up executable by the service role only."""
    admin = await asyncpg.connect(pg.admin_dsn)
    try:
        for role in SUPABASE_ROLES:
            exists = await admin.fetchval("select 1 from pg_roles where rolname = $1", role)
            if not exists:
                await admin.execute(f"create role {role} nologin")
        with pg.database(template="template0") as dsn:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute(
                    "alter default privileges in schema public "
                    "grant execute on functions to anon, authenticated"
                )
                await conn.execute("grant usage on schema public to anon, authenticated")
                await apply_migrations(conn)
                functions = await conn.fetch(PUBLIC_FUNCTIONS_SQL)
                assert len(functions) > 20, "the migrations define the data operations"
                for role, allowed in (
                    ("anon", False),
                    ("authenticated", False),
                    ("service_role", True),
                ):
                    can = {
                        f["signature"]
                        for f in functions
                        if await conn.fetchval(
                            "select has_function_privilege($1, $2::oid, 'execute')", role, f["oid"]
                        )
                    }
                    expected = {f["signature"] for f in functions} if allowed else set()
                    assert can == expected, role
                # and for real, as the role a browser's anon key gets
                async with conn.transaction():
                    await conn.execute("set local role anon")
                    with pytest.raises(asyncpg.exceptions.InsufficientPrivilegeError):
                        await conn.fetchval("select public.app_ping_db()")
            finally:
                await conn.close()
    finally:
        # roles are cluster-wide: leave none behind (their grants went with the database)
        for role in SUPABASE_ROLES:
            await admin.execute(f"drop role if exists {role}")
        await admin.close()


async def test_concurrent_migrators_apply_each_file_once(pg: PgCluster) -> None:
    """Two processes migrate the same empty database at once (two uvicorn workers starting):
    the advisory lock makes one apply everything and the other find nothing to do."""
    with pg.database(template="template0") as dsn:
        first, second = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
        try:
            results = await asyncio.gather(apply_migrations(first), apply_migrations(second))
            names = [m.path.name for m in discover()]
            assert sorted(results, key=len) == [[], names]
            rows = await first.fetch("select version, name from schema_migrations order by 1")
            assert [r["name"] for r in rows] == names
            held = await first.fetchval(
                "select count(*) from pg_locks l join pg_database d on d.oid = l.database"
                " where l.locktype = 'advisory' and d.datname = current_database()"
            )
            assert held == 0  # both released the lock
        finally:
            await first.close()
            await second.close()
