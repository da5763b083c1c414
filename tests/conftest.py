"""Shared fixtures: a real Postgres, clean settings, and the app under test."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from inngest_app.settings import Settings
from tests.harness import LiveFactory, live_factory
from tests.pg import PgCluster, start_cluster

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
    "OUTBOUND_",
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


@pytest.fixture(scope="session")
def pg() -> PgCluster:
    """The session's embedded Postgres with a migrated template database.

    Its data lives in a directory of its own, not in pytest's numbered tmp dirs, which a
    concurrent pytest session may prune while the server runs; the server stops at exit.
    """
    cluster = start_cluster(Path(tempfile.mkdtemp(prefix="inngest-app-pg-")))
    cluster.create_template()
    return cluster


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
