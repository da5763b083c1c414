"""Operator commands as a newcomer runs them: real subprocesses, a shell with nothing set up.

Each command needs only what it uses (`stats` reads the database: no Inngest keys), every error
is one line on stderr with exit status 2, and no command prints a warning (platformdirs'
`XDG_RUNTIME_DIR` one included) or leaves an embedded Postgres running.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.devstack import private_dir
from tests.pg import PgCluster
from tests.processes import wait_gone

ROOT = Path(__file__).resolve().parents[2]


def newcomer_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh shell: none of the service's variables, no XDG runtime dir."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    env.update(extra)
    return env


def run(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def fresh_dir() -> Iterator[Path]:
    with private_dir("inngest-app-cli-test-") as path:
        yield path


def test_stats_needs_only_the_database(database_url: str) -> None:
    # Cloud mode (INNGEST_DEV unset) and no Inngest keys: stats doesn't use them.
    result = run("-m", "inngest_app", "stats", env=newcomer_env(DATABASE_URL=database_url))
    assert result.returncode == 0, result.stderr
    assert "runs 0  ok 0  failed 0" in result.stdout
    assert result.stderr == ""


def test_embedded_newcomer_is_told_to_migrate_then_stats_work(fresh_dir: Path) -> None:
    pg_dir = fresh_dir / "pg"
    env = newcomer_env(EMBEDDED_PG_DIR=str(pg_dir))
    behind = run("-m", "inngest_app", "stats", env=env)
    line = assert_one_line_error(behind, "pending migration", "python scripts/migrate.py")
    assert "20261122000100_foundation.sql" in line
    migrated = run("scripts/migrate.py", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert "applied 20261122000100_foundation.sql" in migrated.stdout
    assert migrated.stderr == ""  # no RuntimeDirWarning, nothing else
    ok = run("-m", "inngest_app", "stats", "--since", "1d", env=env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stderr == "" and "runs 0" in ok.stdout
    # each command stopped the embedded server it started
    assert wait_gone(markers=(str(pg_dir),)) == {}


def test_errors_are_one_line_with_status_2(pg: PgCluster) -> None:
    unreachable = run(
        "-m",
        "inngest_app",
        "stats",
        env=newcomer_env(DATABASE_URL="postgresql://nobody@127.0.0.1:9/none"),
    )
    assert_one_line_error(unreachable, "error:", "database unavailable")

    no_key = run(
        "-m",
        "inngest_app",
        "stripe",
        "replay",
        "evt_1",
        env=newcomer_env(DATABASE_URL=pg.dsn("postgres")),
    )
    line = assert_one_line_error(no_key, "INNGEST_EVENT_KEY")
    assert "INNGEST_SIGNING_KEY" not in line  # replaying sends; it never serves

    bad_argument = run("-m", "inngest_app", "stats", "--since", "soon", env=newcomer_env())
    assert_one_line_error(bad_argument, "--since")

    bad_setting = run(
        "-m", "inngest_app", "stats", env=newcomer_env(DATABASE_URL="x", DB_POOL_MAX="lots")
    )
    assert_one_line_error(bad_setting, "DB_POOL_MAX")
