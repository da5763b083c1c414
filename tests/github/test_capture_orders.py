"""The capture contract in many orders: whatever sequence of new pull requests, updates (some in
the watermark's own second), reviews, plain and enhanced syncs with any page budget, once the
runs they start are done the service holds exactly what GitHub has: every pull request as it
is now, and (after an enhanced sync) every review and comment."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from typing import Any

import pytest

from tests.github.fake import T0, FakeGithub, iso
from tests.github.journeys import active_pr, age_syncs, capture_live, failed_runs, send
from tests.harness import Live, LiveFactory

WIDGETS = {"owner": "acme", "name": "widgets"}


def _newest(nodes: list[dict[str, Any]]) -> dt.datetime:
    return max(dt.datetime.fromisoformat(n["updatedAt"].replace("Z", "+00:00")) for n in nodes)


async def _assert_matches(live: Live, nodes: list[dict[str, Any]], *, activity: bool) -> None:
    stored = {
        r["number"]: (r["title"], r["updated_at"])
        for r in await live.pool.fetch("select number, title, updated_at from pull_requests")
    }
    expected = {
        n["number"]: (n["title"], dt.datetime.fromisoformat(n["updatedAt"].replace("Z", "+00:00")))
        for n in nodes
    }
    assert stored == expected
    if activity:
        reviews = await live.pool.fetchval("select count(*) from reviews")
        comments = await live.pool.fetchval("select count(*) from comments")
        assert reviews == sum(len(n["reviews"]["nodes"]) for n in nodes)
        assert comments == sum(len(n["comments"]["nodes"]) for n in nodes)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_every_order_ends_with_what_github_has(start_live: LiveFactory, seed: int) -> None:
    rng = random.Random(seed)
    fake = FakeGithub()
    first = [active_pr(n, updated=T0 - dt.timedelta(minutes=n)) for n in range(1, 131)]
    nodes: list[dict[str, Any]] = fake.add_repository(
        "acme", "widgets", database_id=9, pull_requests=first
    )["pullRequests"]
    number = len(nodes)
    ids = itertools.count(900_000_000)
    async with capture_live(start_live, fake) as live:
        for _ in range(8):
            action = rng.choice(["new", "update", "same-second", "review"])
            newest = _newest(nodes)
            if action == "new":
                for _ in range(rng.randrange(1, 140)):
                    number += 1
                    newest += dt.timedelta(seconds=rng.randrange(0, 3))
                    nodes.append(active_pr(number, updated=newest))
            else:
                for node in rng.sample(nodes, rng.randrange(1, 30)):
                    when = newest if action == "same-second" else newest + dt.timedelta(minutes=1)
                    node.update(title=f"{node['title']} ({action})", updatedAt=iso(when))
                    if action == "review":
                        node["reviews"]["nodes"].append(
                            {
                                **node["reviews"]["nodes"][0],
                                "fullDatabaseId": str(next(ids)),
                            }
                        )
            enhanced = rng.random() < 0.5
            data: dict[str, Any] = {"repository": WIDGETS, "reason": "scheduled"}
            if enhanced and rng.random() < 0.7:
                data["pages"] = rng.randrange(1, 4)
            await age_syncs(live, 25)
            name = "capture/repository.sync-enhanced" if enhanced else "capture/repository.sync"
            await send(live, name, data)
            assert not failed_runs(live)
            await _assert_matches(live, nodes, activity=enhanced)
