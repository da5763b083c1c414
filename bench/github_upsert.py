"""GitHub capture: bulk upsert rows/s against row by row, and GitHub requests per 100 PRs.

1. Writes: 10,000 pull requests with 3 reviews and 5 comments each (90,000 activity rows), stored
   as the sync functions store them: one `github_store_page` call per page of 100 pull requests
   (one `insert ... select from jsonb_to_recordset ... on conflict` per table). Baseline in the
   same run, same database: the seed's way, one upsert statement per row (the same SQL upsert
   functions called with one row at a time), over 1,000 of those pull requests (9,000 rows).
   Then the bulk path once more over the same rows: an unchanged re-sync (nothing written).
2. Quota: the app and the test executor on loopback, GitHub answered by the schema-executing fake
   (GraphQL) and the recorded REST bodies; each function is run over 200 pull requests and the
   requests GitHub received are counted, per 100 pull requests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from typing import Any

import asyncpg
import httpx
import respx

from bench.pg import migrated_database
from inngest_app.repos.github import (
    CommentRow,
    ContributorRow,
    GithubRepo,
    PullRequestRow,
    RepositoryMeta,
    ReviewRow,
)
from inngest_app.store import PostgresTransport
from inngest_app.store.postgres import create_pool

PRS = 10_000
REVIEWS = 3
COMMENTS = 5
PAGE = 100
BASELINE_PRS = 1_000
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _rows(
    first_id: int, count: int
) -> list[tuple[PullRequestRow, list[ReviewRow], list[CommentRow]]]:
    out = []
    for i in range(count):
        pr_id = first_id + i
        pr = PullRequestRow(
            github_id=pr_id,
            number=pr_id,
            title=f"Pull request {pr_id}",
            state="merged" if i % 3 == 0 else "open",
            draft=i % 10 == 0,
            merged=i % 3 == 0,
            created_at=T0 + dt.timedelta(minutes=i),
            updated_at=T0 + dt.timedelta(minutes=i, seconds=30),
            author_id=1 + i % 50,
            additions=i % 400,
            deletions=i % 70,
            changed_files=1 + i % 9,
            commits=1 + i % 4,
            base_ref="main",
            head_ref=f"branch-{i}",
            url=f"https://github.com/acme/widgets/pull/{pr_id}",
        )
        reviews = [
            ReviewRow(
                github_id=pr_id * 10 + r,
                pull_request_id=pr_id,
                state="APPROVED",
                author_id=1 + (i + r) % 50,
                submitted_at=T0 + dt.timedelta(minutes=i + r),
            )
            for r in range(REVIEWS)
        ]
        comments = [
            CommentRow(
                kind="review" if c % 2 else "issue",
                github_id=pr_id * 10 + c,
                pull_request_id=pr_id,
                author_id=1 + (i + c) % 50,
                created_at=T0 + dt.timedelta(minutes=i + c),
                path="src/app.py" if c % 2 else None,
            )
            for c in range(COMMENTS)
        ]
        out.append((pr, reviews, comments))
    return out


async def _bulk(repo: GithubRepo, repository_id: int, data: list[Any]) -> tuple[float, int]:
    contributors = [ContributorRow(github_id=n, login=f"dev{n}") for n in range(1, 51)]
    written = 0
    start = time.perf_counter()
    for page_start in range(0, len(data), PAGE):
        page = data[page_start : page_start + PAGE]
        result = await repo.store_page(
            repository_id=repository_id,
            contributors=contributors,
            pull_requests=[pr for pr, _, _ in page],
            reviews=[r for _, reviews, _ in page for r in reviews],
            comments=[c for _, _, comments in page for c in comments],
        )
        written += result.pull_requests + result.reviews + result.comments
    return time.perf_counter() - start, written


async def _row_by_row(transport: PostgresTransport, repository_id: int, data: list[Any]) -> float:
    start = time.perf_counter()
    for pr, reviews, comments in data:
        await transport.call(
            "github_upsert_pull_requests",
            {"p_repository_id": repository_id, "p_rows": [pr.model_dump(mode="json")]},
        )
        for review in reviews:
            await transport.call(
                "github_upsert_reviews", {"p_rows": [review.model_dump(mode="json")]}
            )
        for comment in comments:
            await transport.call(
                "github_upsert_comments", {"p_rows": [comment.model_dump(mode="json")]}
            )
    return time.perf_counter() - start


async def _writes(dsn: str) -> dict[str, Any]:
    pool: asyncpg.Pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        transport = PostgresTransport(pool)
        repo = GithubRepo(transport)
        bulk_repo = await repo.upsert_repository(
            RepositoryMeta(github_id=1, owner="acme", name="bulk")
        )
        single_repo = await repo.upsert_repository(
            RepositoryMeta(github_id=2, owner="acme", name="rows")
        )
        await repo.store_page(
            repository_id=bulk_repo.id,
            contributors=[ContributorRow(github_id=n, login=f"dev{n}") for n in range(1, 51)],
        )
        per_pr = 1 + REVIEWS + COMMENTS
        baseline_data = _rows(10_000_000, BASELINE_PRS)
        bulk_data = _rows(1, PRS)
        row_s = await _row_by_row(transport, single_repo.id, baseline_data)
        bulk_s, written = await _bulk(repo, bulk_repo.id, bulk_data)
        again_s, rewritten = await _bulk(repo, bulk_repo.id, bulk_data)
    finally:
        await pool.close()
    bulk_rate = PRS * per_pr / bulk_s
    row_rate = BASELINE_PRS * per_pr / row_s
    return {
        "rows": PRS * per_pr,
        "written": written,
        "bulk_rows_per_s": round(bulk_rate),
        "row_by_row_rows_per_s": round(row_rate),
        "speedup": round(bulk_rate / row_rate, 1),
        "unchanged_resync_rows_per_s": round(PRS * per_pr / again_s),
        "unchanged_resync_written": rewritten,
    }


async def _requests(dsn: str) -> dict[str, float]:
    # The app, the executor and the fake GitHub, as the tests run them.
    from inngest_app.app import create_app
    from inngest_app.settings import Settings
    from inngest_app.testing import ManualClock, TestExecutor
    from inngest_app.testing.live import serve_asgi
    from tests.github import support
    from tests.github.fake import GRAPHQL_URL, FakeGithub, actor, comment, pull_request, review

    count = 200
    fake = FakeGithub()
    prs = [
        pull_request(
            n,
            updated=T0 - dt.timedelta(minutes=n),
            author=actor(f"dev{n % 7}", 100 + n % 7),
            reviews=[review(n * 10 + i, actor("rev", 9), comments=1) for i in range(REVIEWS)],
            comments=[comment(n * 1000 + i, actor("rev", 9)) for i in range(COMMENTS)],
        )
        for n in range(1, count + 1)
    ]
    fake.add_repository("acme", "widgets", database_id=77, pull_requests=prs)
    fake.add_repository("acme", "gadgets", database_id=78, pull_requests=prs)
    rec = "rest/recorded/pygithub/"
    pull = support.recorded(rec + "pulls.get.PyGithub-3370.2026-01.json")[0]["response"]["body"]
    reviews = support.recorded(rec + "pulls.list-reviews.2018-03.json")[0]["response"]["body"]
    comments = support.recorded(rec + "pulls.list-review-comments.2023-06.json")[0]["response"][
        "body"
    ]
    issue = support.recorded(rec + "issues.list-comments.paginated.2024-03.json")[0]["response"][
        "body"
    ]
    rest_calls: list[str] = []

    def rest(request: httpx.Request) -> httpx.Response:
        rest_calls.append(request.url.path)
        parts = request.url.path.split("/")
        if parts[-1] == "reviews":
            return httpx.Response(200, json=reviews)
        if parts[-1] == "comments":
            return httpx.Response(200, json=comments if parts[-3] == "pulls" else issue)
        number = int(parts[-1])
        return httpx.Response(200, json={**pull, "number": number, "id": 5_000_000 + number})

    executor = TestExecutor(clock=ManualClock())
    results: dict[str, float] = {}
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="127.0.0.1").pass_through()
        mock.post(GRAPHQL_URL).mock(side_effect=fake.handle)
        mock.get(host="api.github.com").mock(side_effect=rest)
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
                ref = {"owner": "acme", "name": "widgets"}

                async def run(name: str, data: dict[str, Any]) -> None:
                    [event_id] = await executor.send({"name": name, "data": data})
                    done = await executor.wait_for(
                        lambda r: r.event.get("id") == event_id, timeout=120
                    )
                    assert done.status == "completed", done.error  # noqa: S101

                before = len(fake.queries)
                await run("capture/repository.sync", {"repository": ref})
                results["sync_graphql"] = (len(fake.queries) - before) * 100 / count
                before = len(fake.queries)
                gadgets = {"owner": "acme", "name": "gadgets"}
                await run(
                    "capture/repository.sync-enhanced",
                    {"repository": gadgets, "pages": count // 50},
                )
                results["sync_enhanced"] = (len(fake.queries) - before) * 100 / count
                for n in range(1, 11):
                    await run("capture/pr.details", {"repository": ref, "pr_number": n})
                results["pr_details"] = len(rest_calls) * 100 / 10
    return results


def main() -> None:
    """Print both reports."""
    with migrated_database() as dsn:
        writes = asyncio.run(_writes(dsn))
        print(
            f"bulk upsert: {writes['bulk_rows_per_s']:,} rows/s over {writes['rows']:,} rows "
            f"(written {writes['written']:,}); row by row: {writes['row_by_row_rows_per_s']:,} "
            f"rows/s; speedup {writes['speedup']}x (target >= 20,000 rows/s and >= 10x; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
        )
        print(
            f"unchanged re-sync: {writes['unchanged_resync_rows_per_s']:,} rows/s, "
            f"{writes['unchanged_resync_written']} rows written"
        )
        requests = asyncio.run(_requests(dsn))
        print(
            "GitHub requests per 100 PRs: "
            f"sync-graphql {requests['sync_graphql']:g} (PRs only), "
            f"sync-enhanced {requests['sync_enhanced']:g} (with reviews and comments), "
            f"pr.details {requests['pr_details']:g} (REST: PR + 3 lists)"
        )


if __name__ == "__main__":
    main()
