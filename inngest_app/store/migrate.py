"""Forward-only migrations: `migrations/*.sql`, applied in name order, each in a transaction.

Applied versions are recorded in `schema_migrations`; a session-level advisory lock keeps two
processes (several uvicorn workers, or a deploy and `make migrate`) from applying the same file.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn = asyncpg.Connection[Any] | PoolConnectionProxy[Any]

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
_NAME = re.compile(r"^(\d{14})_[a-z0-9_]+\.sql$")
_LOCK_KEY = 0x1E6E57  # any constant shared by every migrating process


class MigrationError(Exception):
    """A migration file is misnamed or failed to apply."""


@dataclass(frozen=True)
class Migration:
    """One SQL file; `version` is its 14-digit timestamp prefix."""

    version: str
    path: Path


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in order; a misnamed `.sql` file is an error, not silently skipped."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: expected YYYYMMDDHHMMSS_snake_name.sql")
        migrations.append(Migration(version=match.group(1), path=path))
    versions = [m.version for m in migrations]
    if len(versions) != len(set(versions)):
        raise MigrationError("two migration files share a timestamp")
    return migrations


async def apply_migrations(conn: Conn, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every pending migration; return the names applied (empty when up to date)."""
    migrations = discover(directory)
    await conn.execute("select pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """
            create table if not exists public.schema_migrations (
                version text primary key,
                name text not null,
                applied_at timestamptz not null default now()
            );
            alter table public.schema_migrations enable row level security;
            """
        )
        done = {r["version"] for r in await conn.fetch("select version from schema_migrations")}
        applied = []
        for migration in migrations:
            if migration.version in done:
                continue
            sql = migration.path.read_text(encoding="utf-8")
            try:
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "insert into schema_migrations (version, name) values ($1, $2)",
                        migration.version,
                        migration.path.name,
                    )
            except asyncpg.PostgresError as exc:
                raise MigrationError(f"{migration.path.name}: {exc}") from exc
            logger.info("applied migration %s", migration.path.name)
            applied.append(migration.path.name)
        return applied
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _LOCK_KEY)


MIGRATE_COMMAND = "python scripts/migrate.py"


async def pending_migrations(conn: Conn, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """The names of the migration files not yet applied to the database (read-only)."""
    migrations = discover(directory)
    tracked = await conn.fetchval("select to_regclass('public.schema_migrations') is not null")
    done: set[str] = set()
    if tracked:
        done = {r["version"] for r in await conn.fetch("select version from schema_migrations")}
    return [m.path.name for m in migrations if m.version not in done]


def behind_message(pending: list[str]) -> str:
    """One line saying the schema is behind, which files are pending, and the fix."""
    return (
        f"database schema is behind: {len(pending)} pending migration(s) "
        f"({', '.join(pending)}); run `{MIGRATE_COMMAND}`"
    )
