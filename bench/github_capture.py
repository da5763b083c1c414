"""GitHub capture of a 2,000-PR repository from nothing, the way a user starts it.

The app and the test executor on loopback; GitHub answered by the schema-executing fake
(`tests.github.fake`). The repository has 2,000 pull requests, each with one review and one
issue comment (6,000 activity rows). A `discover/new-repository` event (what tracking a
repository or adding it to a workspace sends) starts it; the executor runs every function it
leads to until nothing is left. Reported: GitHub requests, runs and steps, the rows captured
(against the 6,000 GitHub has), and captured rows per second of wall time.

Baseline: the same script run against the code before per-kind sync state (a checkout of main, the
`BENCH_BASELINE_ROOT` directory when set, in a subprocess, its own migrations on its own
database): its discovery ran one plain sync, capped at 10 pages, so it captured 1,000 pull
requests and no review or comment.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import respx

from bench.pg import migrated_database

PRS = 2_000
T0 = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)


def _repository() -> list[dict[str, Any]]:
    from tests.github.fake import actor, comment, iso, pull_request, review

    nodes = []
    for n in range(1, PRS + 1):
        when = T0 - dt.timedelta(minutes=n)
        pr = pull_request(n, updated=when, author=actor(f"dev{n % 9}", 100 + n % 9))
        one_review = review(n * 10, actor(f"rev{n % 5}", 500 + n % 5))
        one_review["submittedAt"] = iso(when)
        one_comment = comment(n * 10, actor(f"com{n % 5}", 700 + n % 5))
        one_comment["createdAt"] = one_comment["updatedAt"] = iso(when)
        pr["reviews"]["nodes"], pr["comments"]["nodes"] = [one_review], [one_comment]
        nodes.append(pr)
    return nodes


async def _capture(dsn: str) -> dict[str, Any]:
    import asyncpg

    from inngest_app.app import create_app
    from inngest_app.settings import Settings
    from inngest_app.testing import ManualClock, TestExecutor
    from inngest_app.testing.live import serve_asgi
    from tests.github.fake import GRAPHQL_URL, FakeGithub

    fake = FakeGithub()
    fake.add_repository("acme", "big", database_id=77, pull_requests=_repository())
    executor = TestExecutor(clock=ManualClock())
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        mock.post(GRAPHQL_URL).mock(side_effect=fake.handle)
        async with serve_asgi(executor.asgi) as executor_url:
            settings = Settings(
                inngest_dev=True,
                inngest_base_url=executor_url,
                database_url=dsn,
                github_token="ghp_bench",
                monitoring_enabled=False,
            )
            async with serve_asgi(create_app(settings)) as app_url:
                await executor.sync(f"{app_url}/api/inngest")
                started = time.perf_counter()
                await executor.send(
                    {
                        "name": "discover/new-repository",
                        "data": {"repository": {"owner": "acme", "name": "big"}},
                    }
                )
                await executor.run_until_idle(max_calls=100_000)
                elapsed = time.perf_counter() - started
    conn = await asyncpg.connect(dsn)
    try:
        counts = await conn.fetchrow(
            "select (select count(*) from pull_requests) prs,"
            " (select count(*) from reviews) reviews, (select count(*) from comments) comments"
        )
    finally:
        await conn.close()
    runs = executor.runs()
    rows = counts["prs"] + counts["reviews"] + counts["comments"]
    return {
        "requests": len(fake.queries),
        "runs": len(runs),
        "failed": sum(1 for r in runs if r.status == "failed"),
        "steps": sum(len(r.step_names(None)) for r in runs),
        "max_steps": max(len(r.step_names(None)) for r in runs),
        "prs": counts["prs"],
        "reviews": counts["reviews"],
        "comments": counts["comments"],
        "rows": rows,
        "seconds": round(elapsed, 2),
        "rows_per_s": round(rows / elapsed) if elapsed else 0,
    }


def measure() -> dict[str, Any]:
    """One capture from nothing, in a fresh database."""
    with migrated_database() as dsn:
        return asyncio.run(_capture(dsn))


def _report(label: str, r: dict[str, Any]) -> str:
    return (
        f"{label}: {r['prs']:,}/{PRS:,} PRs, {r['reviews']:,} reviews, {r['comments']:,} comments"
        f" ({r['rows']:,}/{3 * PRS:,} rows) in {r['seconds']} s = {r['rows_per_s']:,} rows/s;"
        f" {r['requests']} GitHub requests ({r['requests'] * 100 / max(r['prs'], 1):.1f} per 100"
        f" PRs captured), {r['runs']} runs, {r['steps']} steps (at most {r['max_steps']} in one"
        f" run), {r['failed']} failed"
    )


def main() -> None:
    """Print this code's figures, and the baseline's when `BENCH_BASELINE_ROOT` is set."""
    ours = measure()
    print(_report("capture of a 2,000-PR repository", ours))
    root = os.environ.get("BENCH_BASELINE_ROOT")
    if root:
        here = Path(__file__).resolve()
        done = subprocess.run(  # noqa: S603 (our own interpreter and script)
            [sys.executable, str(here), "--json"],
            cwd=root,
            env={**os.environ, "PYTHONPATH": root},
            capture_output=True,
            text=True,
            timeout=1800,
            check=True,
        )
        base = json.loads(done.stdout.strip().splitlines()[-1])
        print(_report("baseline (before per-kind sync state)", base))
        print(
            f"rows captured: {ours['rows'] / max(base['rows'], 1):.1f}x the baseline's;"
            f" rows/s {ours['rows_per_s'] / max(base['rows_per_s'], 1):.2f}x"
        )


if __name__ == "__main__":
    if "--json" in sys.argv:
        print(json.dumps(measure()))
    else:
        main()
