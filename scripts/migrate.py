"""Apply pending migrations to `DATABASE_URL`, or to the embedded Postgres when it is unset.

Usage: python scripts/migrate.py   (also: make migrate). Running it twice changes nothing.
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from inngest_app.settings import SettingsError, load_settings
from inngest_app.store.migrate import MigrationError, apply_migrations
from inngest_app.store.postgres import resolve_dsn, stop_embedded


async def main() -> int:
    """Migrate and print what was applied."""
    try:
        # Migrating needs only the database: don't demand Inngest keys for it.
        settings = load_settings(inngest_dev=True)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    if settings.database_url is None and settings.supabase_url is not None:
        print("set DATABASE_URL (Supabase's connection string) to migrate", file=sys.stderr)
        return 2
    conn = await asyncpg.connect(await resolve_dsn(settings))
    try:
        applied = await apply_migrations(conn)
    except MigrationError as exc:
        print(f"migration failed: {exc}", file=sys.stderr)
        return 1
    finally:
        await conn.close()
        if settings.database_url is None:
            await asyncio.to_thread(stop_embedded, settings.embedded_pg_dir)
    print("\n".join(f"applied {name}" for name in applied) or "database is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
