"""The discussions cron: one event per repository, each its own run; one repository's refusal
is recorded on it and the others go on; a missing repository is re-checked with back-off and
comes back when GitHub answers again."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.github.fake import GRAPHQL_URL, FakeGithub, actor
from tests.github.journeys import ADMIN, capture_live, repository
from tests.harness import LiveFactory


def _discussions(base: int) -> list[dict[str, Any]]:
    return [
        {
            "databaseId": base + n,
            "number": n,
            "title": f"Question {n}",
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": f"2026-01-0{n}T00:00:00Z",
            "closed": False,
            "isAnswered": False,
            "upvoteCount": n,
            "url": f"https://github.com/acme/r/discussions/{n}",
            "category": {"name": "Q&A"},
            "comments": {"totalCount": n},
            "author": actor("asker", 900),
        }
        for n in (1, 2)
    ]


async def test_one_refused_repository_among_three_stops_nothing(start_live: LiveFactory) -> None:
    fake = FakeGithub()
    for i, name in enumerate(["alpha", "locked", "omega", "gone"]):
        fake.add_repository("acme", name, database_id=40 + i, discussions=_discussions(100 * i))

    def answer(request: httpx.Request) -> httpx.Response:
        variables = json.loads(request.content).get("variables") or {}
        if (
            variables.get("name") == "locked"
            and "discussions" in json.loads(request.content)["query"]
        ):
            return httpx.Response(
                403,
                json={"message": "Resource not accessible by integration"},
                headers={"x-ratelimit-remaining": "4000", "x-ratelimit-limit": "5000"},
            )
        return fake.handle(request)

    async with capture_live(start_live) as live:
        live.mock.post(GRAPHQL_URL).mock(side_effect=answer)
        for name in ["alpha", "locked", "omega", "gone"]:
            await live.executor.send(
                {
                    "name": "classify/single-repository",
                    "data": {"repository": {"owner": "acme", "name": name}},
                }
            )
        await live.executor.run_until_idle()
        del fake.repositories[("acme", "gone")]  # GitHub forgets it (for now)

        cron = await live.executor.fire_cron("sync-discussions-cron")
        await live.executor.run_until_idle()
        assert live.executor.run(cron.run_id).status == "completed"
        outcomes = {
            r.output["repository"]: r.output["status"]
            for r in live.executor.runs("capture-repository-discussions")
        }
        assert outcomes == {
            "acme/alpha": "synced",
            "acme/locked": "refused",
            "acme/omega": "synced",
            "acme/gone": "missing",
        }
        stored = await live.pool.fetch(
            "select r.name, count(d.*) n from repositories r"
            " left join discussions d on d.repository_id = r.id group by r.name"
        )
        assert {r["name"]: r["n"] for r in stored} == {
            "alpha": 2,
            "locked": 0,
            "omega": 2,
            "gone": 0,
        }
        locked = (await repository(live, "acme", "locked", ADMIN)).json()
        assert "not accessible" in locked["sync"]["last_error"]
        gone = (await repository(live, "acme", "gone", ADMIN)).json()
        assert gone["status"] == "missing" and gone["recheck_at"]

        # A second firing in the same tick starts nothing new.
        await live.executor.fire_cron("sync-discussions-cron")
        await live.executor.run_until_idle()
        assert len(live.executor.runs("capture-repository-discussions")) == 4

        # Not re-checked before its back-off (1 h) ...
        fake.add_repository("acme", "gone", database_id=43, discussions=_discussions(300))
        live.clock.advance(30 * 60)
        await live.executor.fire_cron("sync-workspace-priorities")
        await live.executor.run_until_idle()
        assert (await repository(live, "acme", "gone", ADMIN)).json()["status"] == "missing"
        # ... and back once GitHub answers again after it.
        live.clock.advance(31 * 60)
        await live.executor.fire_cron("sync-workspace-priorities")
        await live.executor.run_until_idle()
        back = (await repository(live, "acme", "gone", ADMIN)).json()
        assert back["status"] == "active" and back["recheck_at"] is None
