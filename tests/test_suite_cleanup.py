"""The suite leaves nothing behind: run pytest itself (a subprocess) on a test that uses the
session's Postgres and fails, then look for its server and its directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.processes import kill_all, processes, wait_gone

ROOT = Path(__file__).resolve().parents[1]

FAILING_TEST = """
def test_uses_the_database_then_fails(database_url):
    assert database_url.startswith("postgresql://")
    assert False, "this test fails on purpose"
"""


def test_a_failing_run_stops_its_postgres_and_removes_its_directory() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="inngest-app-suite-test-"))
    tmp = scratch / "tmp"  # the inner run's TMPDIR: everything it creates lands here
    tmp.mkdir()
    try:
        (scratch / "test_fails.py").write_text(FAILING_TEST)
        result = subprocess.run(  # noqa: S603
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "tests.conftest",  # the suite's fixtures, for a test file outside the tree
                "--rootdir",
                str(ROOT),
                "-c",
                str(ROOT / "pyproject.toml"),
                "--basetemp",
                str(tmp / "basetemp"),
                str(scratch / "test_fails.py"),
            ],
            cwd=ROOT,
            env={**os.environ, "TMPDIR": str(tmp)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert "1 failed" in result.stdout, result.stdout
        assert "this test fails on purpose" in result.stdout
        assert wait_gone(markers=(str(tmp),)) == {}, "the suite left its Postgres running"
        left = [p.name for p in tmp.iterdir() if p.name.startswith("inngest-app-pg-")]
        assert left == [], f"the suite left its Postgres directory: {left}"
    finally:
        kill_all(processes(markers=(str(scratch),)))
        shutil.rmtree(scratch, ignore_errors=True)
