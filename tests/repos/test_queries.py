"""Queries on a real Postgres: the claim CAS, and the page write as one atomic, idempotent unit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from inngest_app.repos.queries import QueriesRepo
from inngest_app.store import PostgresTransport, StoreError
from inngest_app.store.postgres import create_pool
from inngest_app.store.transport import init_connection
from tests.queries.support import kill_at_checkpoint


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, min_size=1, max_size=3)
    yield pool
    await pool.close()


def _rows(page: int, n: int = 3) -> list[dict[str, object]]:
    return [{"key": f"{page}-{i}", "row": {"id": f"{page}-{i}", "page": page}} for i in range(n)]


async def test_claim_is_a_compare_and_set(pool: asyncpg.Pool) -> None:
    repo = QueriesRepo(PostgresTransport(pool))
    query = await repo.create(user_id="u1", config={}, max_pages=5, max_rows=100)
    first = await repo.claim(query.id, "run-a")
    again = await repo.claim(query.id, "run-a")
    rival = await repo.claim(query.id, "run-b")
    assert first.claimed and again.claimed and not rival.claimed
    assert rival.query.run_id == "run-a"


async def test_a_replayed_page_counts_once(pool: asyncpg.Pool) -> None:
    repo = QueriesRepo(PostgresTransport(pool))
    query = await repo.create(user_id="u1", config={}, max_pages=5, max_rows=100)
    await repo.claim(query.id, "run")
    stored = await repo.store_page(
        query.id, "run", page=1, rows=_rows(1), next_cursor=2, done=False
    )
    replay = await repo.store_page(
        query.id, "run", page=1, rows=_rows(1), next_cursor=2, done=False
    )
    assert stored.stored and stored.inserted == 3
    assert not replay.stored and replay.reason == "already stored"
    assert replay.query.rows_inserted == 3 and replay.query.pages_completed == 1
    assert await pool.fetchval("select count(*) from query_results") == 3


async def test_a_crash_between_fetch_and_commit_loses_and_double_counts_nothing(
    pool: asyncpg.Pool, database_url: str
) -> None:
    repo = QueriesRepo(PostgresTransport(pool))
    query = await repo.create(user_id="u1", config={}, max_pages=5, max_rows=100)
    await repo.claim(query.id, "run")
    # The page write runs, but the process dies before its transaction commits.
    conn = await asyncpg.connect(database_url)
    await init_connection(conn)
    transaction = conn.transaction()
    await transaction.start()
    await conn.fetchval(
        "select query_store_page($1, 'run', 1, $2::jsonb, '2'::jsonb, false)", query.id, _rows(1)
    )
    inside = await conn.fetchval("select count(*) from query_results")
    await pool.execute("select pg_terminate_backend($1)", conn.get_server_pid())
    conn.terminate()
    assert inside == 3  # the rows were written, uncommitted
    assert await pool.fetchval("select count(*) from query_results") == 0
    after_crash = await repo.get(query.id)
    assert after_crash is not None and after_crash.pages_completed == 0
    # The platform retries the step: the page is written exactly once.
    retried = await repo.store_page(
        query.id, "run", page=1, rows=_rows(1), next_cursor=2, done=False
    )
    assert retried.stored and retried.query.rows_inserted == 3
    assert await pool.fetchval("select count(*) from query_results") == 3


async def test_a_connection_killed_inside_store_page_commits_nothing(
    pool: asyncpg.Pool, database_url: str
) -> None:
    """The real `QueriesRepo.store_page` call dies after inserting its rows, before its
    checkpoint: neither is kept, and the retry writes the page exactly once."""
    repo = QueriesRepo(PostgresTransport(pool))
    query = await repo.create(user_id="u1", config={}, max_pages=5, max_rows=100)
    await repo.claim(query.id, "run")
    admin = await asyncpg.connect(database_url)
    try:
        killer = await kill_at_checkpoint(admin, page=1)
        with pytest.raises(StoreError) as caught:
            await repo.store_page(query.id, "run", page=1, rows=_rows(1), next_cursor=2, done=False)
        assert caught.value.retriable is True
        await killer
        assert await pool.fetchval("select count(*) from query_results") == 0
        after_crash = await repo.get(query.id)
        assert after_crash is not None
        assert (after_crash.pages_completed, after_crash.rows_inserted) == (0, 0)
        retried = await repo.store_page(
            query.id, "run", page=1, rows=_rows(1), next_cursor=2, done=False
        )
        assert retried.stored and retried.query.rows_inserted == 3
        assert await pool.fetchval("select count(*) from query_results") == 3
    finally:
        await admin.close()


async def test_rows_seen_on_an_earlier_page_are_not_counted_again(pool: asyncpg.Pool) -> None:
    repo = QueriesRepo(PostgresTransport(pool))
    query = await repo.create(user_id="u1", config={}, max_pages=5, max_rows=100)
    await repo.claim(query.id, "run")
    await repo.store_page(query.id, "run", page=1, rows=_rows(1), next_cursor=2, done=False)
    overlap = [*_rows(1)[:1], *_rows(2)]
    stored = await repo.store_page(
        query.id, "run", page=2, rows=overlap, next_cursor=None, done=True
    )
    assert stored.inserted == 3 and stored.query.rows_inserted == 6
    assert stored.query.status == "completed"


async def test_a_cancelled_query_stores_nothing_more(pool: asyncpg.Pool) -> None:
    repo = QueriesRepo(PostgresTransport(pool))
    query = await repo.create(user_id="u1", config={}, max_pages=5, max_rows=100)
    await repo.claim(query.id, "run")
    assert await repo.cancel(query.id) is not None
    stored = await repo.store_page(
        query.id, "run", page=1, rows=_rows(1), next_cursor=2, done=False
    )
    assert not stored.stored and stored.query.status == "cancelled"
    assert await pool.fetchval("select count(*) from query_results") == 0
    assert await repo.resume(query.id) is None  # cancelled is final


async def test_results_are_paged_by_keyset(pool: asyncpg.Pool) -> None:
    repo = QueriesRepo(PostgresTransport(pool))
    query = await repo.create(user_id="u1", config={}, max_pages=5, max_rows=100)
    await repo.claim(query.id, "run")
    await repo.store_page(query.id, "run", page=1, rows=_rows(1, 5), next_cursor=None, done=True)
    first = await repo.results(query.id, after=None, limit=3)
    second = await repo.results(query.id, after=first.next, limit=3)
    assert [r.key for r in first.rows + second.rows] == [f"1-{i}" for i in range(5)]
    assert second.next is None


async def test_the_running_cap_holds_under_concurrent_starts(pool: asyncpg.Pool) -> None:
    repo = QueriesRepo(PostgresTransport(pool))
    created = await asyncio.gather(
        *(
            repo.create_limited(user_id="u1", config={}, max_pages=5, max_rows=100, max_active=3)
            for _ in range(8)
        )
    )
    assert sum(q is not None for q in created) == 3
    other = await repo.create_limited(
        user_id="u2", config={}, max_pages=5, max_rows=100, max_active=3
    )
    assert other is not None  # per user


async def test_resume_is_capped_and_ended_queries_free_a_slot(pool: asyncpg.Pool) -> None:
    repo = QueriesRepo(PostgresTransport(pool))
    first = await repo.create_limited(
        user_id="u1", config={}, max_pages=5, max_rows=100, max_active=1
    )
    assert first is not None
    await repo.claim(first.id, "run")
    await repo.fail(first.id, "run", error="down", code="source_unavailable", retriable=True)
    second = await repo.create_limited(
        user_id="u1", config={}, max_pages=5, max_rows=100, max_active=1
    )
    assert second is not None  # the failed one no longer counts
    limited = await repo.resume_limited(first.id, max_active=1)
    assert limited.limited and not limited.resumed and limited.query is None
    await repo.cancel(second.id)
    resumed = await repo.resume_limited(first.id, max_active=1)
    assert resumed.resumed and resumed.query is not None and resumed.query.status == "pending"
    not_resumable = await repo.resume_limited(second.id, max_active=1)
    assert not not_resumable.resumed and not not_resumable.limited


async def test_a_hand_over_passes_the_query_to_the_run_holding_its_token(
    pool: asyncpg.Pool,
) -> None:
    repo = QueriesRepo(PostgresTransport(pool))
    query = await repo.create(user_id="u1", config={}, max_pages=9, max_rows=100)
    await repo.claim(query.id, "run-a")
    await repo.store_page(query.id, "run-a", page=1, rows=_rows(1), next_cursor=2, done=False)
    stale = await repo.hand_over(query.id, "run-a", pages=0)  # not the stored checkpoint
    assert not stale.handed_over and stale.query.run_id == "run-a"
    handed = await repo.hand_over(query.id, "run-a", pages=1)
    again = await repo.hand_over(query.id, "run-a", pages=1)  # a retried hand-over step
    assert handed.handed_over and again.handed_over and handed.token == again.token
    assert handed.token == f"handover:{query.id}:1:run-a"
    assert handed.query.status == "running" and handed.query.run_id == handed.token
    # the handing run holds the query no more: its writes are refused
    late = await repo.store_page(
        query.id, "run-a", page=2, rows=_rows(2), next_cursor=3, done=False
    )
    assert not late.stored and late.reason == "not running"
    wrong = await repo.claim_handed(query.id, "run-b", token=f"handover:{query.id}:1:run-z")
    assert not wrong.claimed
    assert not (await repo.claim(query.id, "run-x")).claimed  # a plain start takes nothing
    took = await repo.claim_handed(query.id, "run-b", token=handed.token)
    retook = await repo.claim_handed(query.id, "run-b", token=handed.token)
    assert took.claimed and retook.claimed and took.query.run_id == "run-b"
    assert took.query.pages_completed == 1 and took.query.next_cursor == 2
    rival = await repo.claim_handed(query.id, "run-c", token=handed.token)
    assert not rival.claimed
    assert (
        await repo.store_page(query.id, "run-b", page=2, rows=_rows(2), next_cursor=3, done=True)
    ).stored


async def test_a_continuation_that_fails_before_claiming_leaves_the_query_resumable(
    pool: asyncpg.Pool,
) -> None:
    repo = QueriesRepo(PostgresTransport(pool))
    query = await repo.create(user_id="u1", config={}, max_pages=9, max_rows=100)
    await repo.claim(query.id, "run-a")
    await repo.hand_over(query.id, "run-a", pages=0)
    failed = await repo.fail(query.id, "run-b", error="boom", code="run_failed", retriable=True)
    assert failed is not None and failed.status == "failed" and failed.retriable
    resumed = await repo.resume(query.id)
    assert resumed is not None and resumed.status == "pending" and resumed.run_id is None


async def test_a_cancelled_query_cannot_be_handed_over(pool: asyncpg.Pool) -> None:
    repo = QueriesRepo(PostgresTransport(pool))
    query = await repo.create(user_id="u1", config={}, max_pages=9, max_rows=100)
    await repo.claim(query.id, "run-a")
    await repo.cancel(query.id)
    refused = await repo.hand_over(query.id, "run-a", pages=0)
    assert not refused.handed_over and refused.query.status == "cancelled"
