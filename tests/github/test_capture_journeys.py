"""Capture journeys: from the user's first request to the counts the user reads back, through
the test executor, every function on the way and the fake GitHub.

The contract pinned here: whatever order syncs come in (discovery, plain, enhanced, repeated,
page-capped, interleaved with updates), every pull request, review and comment GitHub has is
captured, and the repository API says when the capture has caught up.
"""

from __future__ import annotations

import datetime as dt

from tests.github.fake import T0, FakeGithub, iso
from tests.github.journeys import (
    ADMIN,
    USER,
    active_pr,
    age_syncs,
    capture_live,
    counts,
    failed_runs,
    repository,
    send,
    track,
)
from tests.harness import LiveFactory

SYNC = "capture/repository.sync"
ENHANCED = "capture/repository.sync-enhanced"
WIDGETS = {"owner": "acme", "name": "widgets"}


def _repo(fake: FakeGithub, prs: int, *, start: int = 1) -> list[dict[str, object]]:
    nodes = [active_pr(n, updated=T0 - dt.timedelta(minutes=n)) for n in range(start, start + prs)]
    repo = fake.add_repository("acme", "widgets", database_id=9, pull_requests=nodes)
    served: list[dict[str, object]] = repo["pullRequests"]
    return served


async def test_a_tracked_250_pr_repository_is_captured_whole_without_a_second_request(
    start_live: LiveFactory,
) -> None:
    fake = FakeGithub()
    _repo(fake, 250)
    async with capture_live(start_live, fake) as live:
        response = await track(live, "acme", "widgets", USER)
        assert response.status_code == 202, response.text
        assert not failed_runs(live)
        assert await counts(live, "acme", "widgets") | {"contributors": 0} == {
            "pull_requests": 250,
            "open_pull_requests": 250,
            "reviews": 250,
            "comments": 250,
            "discussions": 0,
            "contributors": 0,
        }
        view = (await repository(live, "acme", "widgets", USER)).json()
        assert view["capture"]["state"] == "captured"
        assert {k["kind"]: k["caught_up"] for k in view["capture"]["kinds"]} == {
            "pull_requests": True,
            "activity": True,
        }
        # Every run stayed far below Inngest's 1,000 steps.
        assert max(len(r.step_log) for r in live.executor.runs()) < 100


async def test_plain_then_enhanced_captures_every_review_and_comment(
    start_live: LiveFactory,
) -> None:
    fake = FakeGithub()
    _repo(fake, 5)
    async with capture_live(start_live, fake) as live:
        await send(live, SYNC, {"repository": WIDGETS})
        assert (await counts(live, "acme", "widgets"))["reviews"] == 0
        await send(live, ENHANCED, {"repository": WIDGETS})
        assert not failed_runs(live)
        found = await counts(live, "acme", "widgets")
        assert (found["pull_requests"], found["reviews"], found["comments"]) == (5, 5, 5)
        # and again an hour later, after both watermarks exist: nothing lost, nothing doubled
        await age_syncs(live, 1)
        await send(live, SYNC, {"repository": WIDGETS})
        await send(live, ENHANCED, {"repository": WIDGETS})
        found = await counts(live, "acme", "widgets")
        assert (found["pull_requests"], found["reviews"], found["comments"]) == (5, 5, 5)


async def test_a_one_page_enhanced_sync_then_a_plain_sync_capture_every_pr(
    start_live: LiveFactory,
) -> None:
    fake = FakeGithub()
    _repo(fake, 120)  # small: one plain page of 100 per run; the enhanced page is 50
    async with capture_live(start_live, fake) as live:
        await send(live, ENHANCED, {"repository": WIDGETS, "pages": 1})
        await age_syncs(live, 30)
        await send(live, SYNC, {"repository": WIDGETS, "reason": "scheduled"})
        assert not failed_runs(live)
        found = await counts(live, "acme", "widgets")
        assert (found["pull_requests"], found["reviews"], found["comments"]) == (120, 120, 120)


async def test_an_update_in_the_watermarks_second_is_read(start_live: LiveFactory) -> None:
    fake = FakeGithub()
    nodes = _repo(fake, 3)
    nodes[0]["updatedAt"] = iso(T0)  # the newest: the watermark will be T0
    async with capture_live(start_live, fake) as live:
        await send(live, SYNC, {"repository": WIDGETS})
        # PR 2 changes within the same second as the watermark (updatedAt has 1 s resolution)
        nodes[1].update(title="Renamed in the boundary second", updatedAt=iso(T0))
        await age_syncs(live, 2)
        await send(live, SYNC, {"repository": WIDGETS})
        titles = {
            r["number"]: r["title"]
            for r in await live.pool.fetch("select number, title from pull_requests")
        }
        assert titles[2] == "Renamed in the boundary second"


async def test_a_busy_repository_is_caught_up_across_runs(start_live: LiveFactory) -> None:
    """More pull requests change between two syncs than one sync reads: the capture carries on
    where it stopped, and the repository says it is behind until it has caught up."""
    fake = FakeGithub()
    nodes = _repo(fake, 40)
    async with capture_live(start_live, fake) as live:
        await send(live, ENHANCED, {"repository": WIDGETS})
        assert (await counts(live, "acme", "widgets"))["pull_requests"] == 40
        later = T0 + dt.timedelta(days=1)
        nodes += [
            active_pr(n, updated=later - dt.timedelta(seconds=n), reviews=2)
            for n in range(100, 230)
        ]
        nodes[5].update(title="old one touched", updatedAt=iso(later - dt.timedelta(hours=2)))
        await age_syncs(live, 2)
        await send(live, ENHANCED, {"repository": WIDGETS, "pages": 1})
        assert not failed_runs(live)
        found = await counts(live, "acme", "widgets")
        assert (found["pull_requests"], found["reviews"], found["comments"]) == (170, 300, 170)
        [title] = await live.pool.fetch("select title from pull_requests where number = 6")
        assert title["title"] == "old one touched"
        view = (await repository(live, "acme", "widgets", ADMIN)).json()
        assert view["capture"]["state"] == "captured"
        runs = live.executor.runs("capture-repository-sync-enhanced")
        assert all(len(r.step_log) < 50 for r in runs)


async def test_tracking_a_repository_known_only_from_a_plain_sync_captures_its_activity(
    start_live: LiveFactory,
) -> None:
    fake = FakeGithub()
    _repo(fake, 30)
    async with capture_live(start_live, fake) as live:
        await send(live, SYNC, {"repository": WIDGETS})
        assert (await counts(live, "acme", "widgets"))["reviews"] == 0
        response = await track(live, "Acme", "Widgets", USER)
        assert response.status_code == 202 and response.json()["status"] == "known"
        found = await counts(live, "acme", "widgets")
        assert (found["pull_requests"], found["reviews"], found["comments"]) == (30, 30, 30)
        # tracked again: nothing more to do
        await track(live, "acme", "widgets", USER)
        assert len(live.executor.runs("capture-repository-sync-enhanced")) == 1
