"""The skills SQL functions on a real Postgres: allowance, start CAS, single output, health."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from inngest_app.repos.skills import FeedbackApplied, SkillsRepo
from inngest_app.settings import DEFAULT_SKILLS_DIR
from inngest_app.skills.library import load_library
from inngest_app.store import PostgresTransport
from inngest_app.store.postgres import create_pool


@pytest.fixture
async def repo(database_url: str) -> AsyncIterator[SkillsRepo]:
    pool = await create_pool(database_url, min_size=1, max_size=5)
    repo = SkillsRepo(PostgresTransport(pool))
    await repo.sync_skills(list(load_library(DEFAULT_SKILLS_DIR).values()))
    yield repo
    await pool.close()


async def _run(repo: SkillsRepo, user: str = "u1", limit: int = 100) -> str | None:
    created = await repo.create_run(
        user_id=user,
        skill_name="marketing-brief",
        client_id=None,
        message="m",
        options={},
        max_per_hour=limit,
    )
    return None if created.run is None else str(created.run.id)


async def test_sync_is_idempotent_and_deactivates_removed_skills(repo: SkillsRepo) -> None:
    skills = list(load_library(DEFAULT_SKILLS_DIR).values())
    assert await repo.sync_skills(skills) == {"changed": 0, "deactivated": 0}
    assert await repo.sync_skills(skills[:1]) == {"changed": 0, "deactivated": len(skills) - 1}
    created = await repo.create_run(
        user_id="u",
        skill_name=skills[1].name,
        client_id=None,
        message="m",
        options={},
        max_per_hour=5,
    )
    assert created.code == "unknown_skill"


async def test_the_hourly_allowance_holds_under_concurrent_creates(repo: SkillsRepo) -> None:
    made = await asyncio.gather(*(_run(repo, limit=5) for _ in range(12)))
    assert sum(1 for m in made if m is not None) == 5
    refused = await repo.create_run(
        user_id="u1",
        skill_name="marketing-brief",
        client_id=None,
        message="m",
        options={},
        max_per_hour=5,
    )
    assert refused.code == "rate_limited"
    assert refused.retry_after_s is not None and 3590 <= refused.retry_after_s <= 3600
    assert await _run(repo, user="u2", limit=5) is not None


async def test_start_is_a_compare_and_set_per_inngest_run(repo: SkillsRepo) -> None:
    run_id = uuid.UUID(await _run(repo))
    first = await repo.start_run(run_id, "inngest-a")
    again = await repo.start_run(run_id, "inngest-a")
    rival = await repo.start_run(run_id, "inngest-b")
    assert first is not None and first.started and first.run.status == "running"
    assert again is not None and again.started
    assert rival is not None and not rival.started
    assert await repo.start_run(uuid.uuid4(), "inngest-a") is None


async def test_one_output_per_run_and_the_first_error_stays(repo: SkillsRepo) -> None:
    run_id = uuid.UUID(await _run(repo))
    await repo.start_run(run_id, "i")
    first = await repo.record_output(
        run_id=run_id,
        storage_key=f"{run_id}/a.md",
        format="markdown",
        title="t",
        preview="p" * 600,
        size_bytes=3,
    )
    second = await repo.record_output(
        run_id=run_id,
        storage_key=f"{run_id}/b.md",
        format="markdown",
        title="u",
        preview="q",
        size_bytes=4,
    )
    assert first.id == second.id and second.storage_key == f"{run_id}/a.md"
    assert len(first.preview) == 500
    failed = await repo.fail_run(run_id, "first error")
    again = await repo.fail_run(run_id, "second error")
    assert failed is not None and again is not None and again.error == "first error"
    assert await repo.complete_run(run_id, "i", tokens_in=1, tokens_out=2) is None


async def _output(repo: SkillsRepo) -> uuid.UUID:
    run_id = uuid.UUID(await _run(repo) or "")
    await repo.start_run(run_id, "i")
    output = await repo.record_output(
        run_id=run_id,
        storage_key=f"{run_id}/a.md",
        format="markdown",
        title="t",
        preview="p",
        size_bytes=1,
    )
    return output.id


async def _score(repo: SkillsRepo, output_id: uuid.UUID, user: str, score: int) -> uuid.UUID:
    feedback = await repo.create_feedback(
        output_id=output_id,
        user_id=user,
        overall=score,
        accuracy=None,
        quality=None,
        issues=[],
        comment=None,
    )
    assert feedback is not None
    return feedback.id


async def _apply(
    repo: SkillsRepo,
    feedback_id: uuid.UUID,
    claimant: str = "run-1",
    skill: str = "marketing-brief",
) -> FeedbackApplied | None:
    return await repo.apply_feedback(
        feedback_id, skill, threshold=3, claimant=claimant, window=10, min_users=3, lease_s=600
    )


async def test_health_from_the_last_ten_distinct_users(repo: SkillsRepo) -> None:
    assert await repo.metrics("marketing-brief") is None  # no feedback: no metrics, no average
    output_id = await _output(repo)
    applied = None
    healths = []
    for i, score in enumerate([1] * 5 + [5] * 10):  # the five 1s fall out of the last ten
        applied = await _apply(repo, await _score(repo, output_id, f"u{i}", score))
        assert applied is not None and applied.metrics is not None
        healths.append(applied.metrics.health)
    assert healths[:3] == ["unknown", "unknown", "degraded"]  # three users at least
    assert applied is not None and applied.metrics is not None
    assert applied.metrics.feedback_count == 15 and applied.metrics.avg_last_10 == 5.0
    assert applied.metrics.users == 10 and applied.metrics.health == "healthy"
    # the degraded period in the middle recorded exactly one alert
    assert applied.alert is not None and applied.alert.kind == "skill_degraded"
    # one user scoring again replaces their score: one row, one voice
    again = await _score(repo, output_id, "u14", 1)
    applied = await _apply(repo, again)
    assert applied is not None and applied.metrics is not None
    assert applied.metrics.feedback_count == 15 and applied.metrics.avg_last_10 == 4.6
    mismatch = await _apply(repo, again, skill="social-posts")
    assert mismatch is not None and mismatch.error == "skill_mismatch"
    assert await _apply(repo, uuid.uuid4()) is None


async def test_an_alert_goes_to_one_poster_until_released(repo: SkillsRepo) -> None:
    output_id = await _output(repo)
    for user in ("u1", "u2"):
        await _apply(repo, await _score(repo, output_id, user, 1))
    feedback = await _score(repo, output_id, "u3", 1)
    results = await asyncio.gather(*(_apply(repo, feedback, f"run-{i}") for i in range(6)))
    claimed = [r for r in results if r is not None and r.alert is not None]
    assert len(claimed) == 1
    winner = claimed[0].alert
    assert winner is not None and winner.claimed_by is not None
    retry = await _apply(repo, feedback, winner.claimed_by)
    assert retry is not None and retry.alert is not None and retry.alert.id == winner.id
    # the monitor cannot take a live claim; after a failed delivery it is released, then can
    assert await repo.claim_alerts(claimant="monitor", lease_s=600, limit=10) == []
    assert await repo.release_alerts(claimant="someone-else", alert_ids=[winner.id]) == 0
    assert await repo.release_alerts(claimant=winner.claimed_by, alert_ids=[winner.id]) == 1
    [taken] = await repo.claim_alerts(claimant="monitor", lease_s=0, limit=10)
    assert taken.id == winner.id and taken.claimed_by == "monitor"
    # an expired claim (lease 0) is anyone's
    [again] = await repo.claim_alerts(claimant="monitor-2", lease_s=600, limit=10)
    assert again.id == winner.id
    assert await repo.mark_alerts_notified([winner.id]) == 1
    assert await repo.claim_alerts(claimant="monitor-3", lease_s=600, limit=10) == []
    done = await _apply(repo, feedback, "monitor-2")
    assert done is not None and done.alert is None


async def test_a_sweep_retried_by_its_run_returns_the_same_answer(repo: SkillsRepo) -> None:
    run_id = uuid.UUID(await _run(repo) or "")
    first = await repo.sweep(start_timeout_s=0, finish_timeout_s=600, limit=10, claimant="m-1")
    assert [r.id for r in first.resend] == [run_id] and first.resend[0].resends == 1
    retry = await repo.sweep(start_timeout_s=0, finish_timeout_s=600, limit=10, claimant="m-1")
    assert retry == first
    other = await repo.sweep(start_timeout_s=0, finish_timeout_s=600, limit=10, claimant="m-2")
    assert other.resend == [] and [r.id for r in other.never_started] == [run_id]
