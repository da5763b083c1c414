"""Workspace metrics at scale: 1,000 workspaces × 20 repositories over 500,000 pull requests
(plus a review and two comments per pull request), on the embedded Postgres.

1. One workspace's daily aggregation (`workspace_compute_day`: one statement, upserted), p50 and
   p95 over random workspaces. Target: p50 < 50 ms. Baseline in the same run: the naive way, the
   workspace's pull requests, reviews and comments fetched into Python and counted there.
2. The whole nightly fan-out's database time: every workspace's day computed (as the
   `aggregate-workspace-metrics` runs the cron fans out would), plus the keyset pages of ids the
   cron reads, summed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import random
import statistics
import time
import uuid
from typing import Any

import asyncpg

from bench.pg import migrated_database
from inngest_app.repos.workspaces import WorkspacesRepo
from inngest_app.store import PostgresTransport
from inngest_app.store.postgres import create_pool

WORKSPACES = 1_000
REPOS_PER_WORKSPACE = 20
REPOSITORIES = 5_000
PULL_REQUESTS = 500_000
SAMPLES = 60
DAY = dt.date(2026, 11, 15)

_SEED = """
select setseed(0.42);
insert into contributors (github_id, login)
    select g, 'dev' || g from generate_series(1, 5000) g;
insert into repositories (github_id, owner, name, last_synced_at)
    select g, 'org' || (g % 100), 'repo' || g, now() from generate_series(1, {repos}) g;
insert into pull_requests (github_id, repository_id, number, title, state, merged, merged_at,
                           created_at, updated_at, closed_at, author_id)
    select g, r, n, 'pr', case when fate < 0.6 then 'merged' when fate < 0.8 then 'closed'
                               else 'open' end,
           fate < 0.6, case when fate < 0.6 then created + span end, created, created,
           case when fate < 0.8 then created + span end, 1 + (g::bigint * 7919) % 5000
      -- ids in repository order, as captures write them (one repository's pages at a time)
      from (select g, 1 + (g - 1) / {per_repo} as r, 1 + (g - 1) % {per_repo} as n,
                   random() as fate,
                   timestamptz '2026-11-30' - random() * interval '365 days' as created,
                   random() * interval '96 hours' as span
              from generate_series(1, {prs}) g) s;
insert into reviews (github_id, pull_request_id, author_id, state, submitted_at)
    select github_id, github_id, 1 + (github_id * 104729) % 5000, 'APPROVED',
           created_at + interval '5 hours' from pull_requests;
insert into comments (kind, github_id, pull_request_id, author_id, created_at)
    select k, github_id, github_id, 1 + (github_id * 31) % 5000,
           created_at + (case k when 'issue' then 2 else 30 end) * interval '1 hour'
      from pull_requests, unnest(array['issue', 'review']) k;
analyze;
"""


async def _seed(dsn: str) -> list[uuid.UUID]:
    conn = await asyncpg.connect(dsn, command_timeout=None)  # seeding takes minutes, not seconds
    try:
        await conn.execute(
            _SEED.format(
                repos=REPOSITORIES, prs=PULL_REQUESTS, per_repo=PULL_REQUESTS // REPOSITORIES
            )
        )
        ids: list[uuid.UUID] = [
            row["id"]
            for row in await conn.fetch(
                "insert into workspaces (owner_id, name, slug)"
                " select 'u' || i, 'W' || i, 'w' || i from generate_series(1, $1) i returning id",
                WORKSPACES,
            )
        ]
        rng = random.Random(3)
        members = [
            (ws, "org" + str(r % 100), f"repo{r}")
            for ws in ids
            for r in rng.sample(range(1, REPOSITORIES + 1), REPOS_PER_WORKSPACE)
        ]
        await conn.executemany(
            "insert into workspace_repositories (workspace_id, owner, name) values ($1, $2, $3)",
            members,
        )
        await conn.execute("analyze")
    finally:
        await conn.close()
    return ids


async def _naive_day(conn: asyncpg.Connection, workspace_id: uuid.UUID, day: dt.date) -> int:
    """The baseline: fetch the workspace's rows and count in Python (no upsert)."""
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    end = start + dt.timedelta(days=1)
    prs = await conn.fetch(
        "select p.github_id, p.author_id, p.created_at, p.merged_at, p.closed_at, p.merged"
        " from pull_requests p join repositories r on r.id = p.repository_id"
        " join workspace_repositories m on lower(m.owner) = lower(r.owner)"
        "  and lower(m.name) = lower(r.name) where m.workspace_id = $1",
        workspace_id,
    )
    ids = [p["github_id"] for p in prs]
    reviews = await conn.fetch(
        "select author_id, submitted_at from reviews where pull_request_id = any($1)", ids
    )
    comments = await conn.fetch(
        "select author_id, created_at from comments where pull_request_id = any($1)", ids
    )

    def on(moment: dt.datetime | None) -> bool:
        return moment is not None and start <= moment < end

    people = {p["author_id"] for p in prs if on(p["created_at"])}
    people |= {r["author_id"] for r in reviews if on(r["submitted_at"])}
    people |= {c["author_id"] for c in comments if on(c["created_at"])}
    active = [p for p in prs if on(p["created_at"]) or on(p["merged_at"]) or on(p["closed_at"])]
    return len(active) + len(people)


def _ms(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (
        round(statistics.median(ordered) * 1000, 2),
        round(ordered[int(len(ordered) * 0.95) - 1] * 1000, 2),
    )


async def _measure(dsn: str) -> dict[str, Any]:
    seeded = time.perf_counter()
    ids = await _seed(dsn)
    seed_s = time.perf_counter() - seeded
    pool = await create_pool(dsn, min_size=1, max_size=2)
    repo = WorkspacesRepo(PostgresTransport(pool))
    rng = random.Random(11)
    sample = rng.sample(ids, SAMPLES)
    await repo.compute_day(sample[0], DAY)  # warm the plan cache
    one, naive = [], []
    async with pool.acquire() as conn:
        for workspace_id in sample:
            started = time.perf_counter()
            await repo.compute_day(workspace_id, DAY)
            one.append(time.perf_counter() - started)
            started = time.perf_counter()
            await _naive_day(conn, workspace_id, DAY)
            naive.append(time.perf_counter() - started)

    nightly = time.perf_counter()
    after, pages, computed = None, 0, 0
    while True:
        page = await repo.ids_page(after=after, limit=500)
        pages += 1
        for workspace_id in page:
            computed += (
                await repo.compute_day(workspace_id, DAY + dt.timedelta(days=1))
            ) is not None
        if len(page) < 500:
            break
        after = page[-1]
    nightly_s = time.perf_counter() - nightly
    await pool.close()
    p50, p95 = _ms(one)
    naive_p50, _ = _ms(naive)
    return {
        "seed": {
            "workspaces": WORKSPACES,
            "repositories": REPOSITORIES,
            "pull_requests": PULL_REQUESTS,
            "seconds": round(seed_s, 1),
        },
        "one_workspace_day_p50_ms": p50,
        "one_workspace_day_p95_ms": p95,
        "target_p50_ms": 50,
        "baseline_fetch_and_count_in_python_p50_ms": naive_p50,
        "ratio_vs_baseline": round(naive_p50 / p50, 1) if p50 else None,
        "nightly_fan_out_db_s": round(nightly_s, 2),
        "nightly_workspaces_computed": computed,
        "nightly_id_pages": pages,
    }


def main() -> None:
    """Print the figures."""
    with migrated_database() as dsn:
        report = asyncio.run(_measure(dsn))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
