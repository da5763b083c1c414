"""The query API: validation, auth and ownership, keyset results, server-sent progress."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import jwt
import pytest

from tests.harness import LiveFactory
from tests.queries.support import API, JWT_SECRET, config, pages_api, query_settings, token

ADMIN_KEY = "admin-key-0123456789"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source": {"kind": "http", "row_key": "id"}}, "url"),
        (
            {
                "source": {
                    "kind": "http",
                    "url": API,
                    "row_key": "id",
                    "pagination": {"style": "sideways"},
                }
            },
            "pagination",
        ),
        ({"source": {"kind": "http", "url": API}}, "row_key"),
        ({**config(), "credential": "nope"}, "credential"),
        ({**config(), "max_pages": 0}, "max_pages"),
        ({**config(), "surprise": True}, "surprise"),
    ],
)
async def test_invalid_configs_are_400_naming_the_field(
    start_live: LiveFactory, body: dict[str, Any], field: str
) -> None:
    async with start_live(**query_settings()) as live:
        response = await live.api.post("/api/queries/run", json=body, headers=token())
        assert response.status_code == 400, response.text
        assert field in response.json()["error"]
        assert await live.pool.fetchval("select count(*) from queries") == 0
        assert not live.executor.runs()


async def test_malformed_json_is_400(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        response = await live.api.post("/api/queries/run", content=b"{", headers=token())
        assert response.status_code == 400 and response.json()["code"] == "invalid_json"


async def test_auth_and_ownership(start_live: LiveFactory) -> None:
    async with start_live(**query_settings(), monitoring_api_key=ADMIN_KEY) as live:
        answer, _ = pages_api(1)
        live.mock.get(API).mock(side_effect=answer)
        assert (await live.api.post("/api/queries/run", json=config())).status_code == 401
        expired = jwt.encode(
            {
                "sub": "u",
                "exp": int(time.time()) - 10,
                "aud": "authenticated",
                "role": "authenticated",
            },
            JWT_SECRET,
            "HS256",
        )
        response = await live.api.post(
            "/api/queries/run", json=config(), headers={"Authorization": f"Bearer {expired}"}
        )
        assert response.status_code == 401 and "expired" in response.json()["error"]
        query_id = (await live.api.post("/api/queries/run", json=config(), headers=token())).json()[
            "id"
        ]
        other = await live.api.get(f"/api/queries/{query_id}", headers=token("someone-else"))
        assert other.status_code == 404
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        assert (await live.api.get(f"/api/queries/{query_id}", headers=admin)).status_code == 200
        forged = await live.api.post(
            "/api/queries/run", json={**config(), "userId": "victim"}, headers=token()
        )
        assert forged.status_code == 403
        assert (await live.api.get("/api/queries/not-a-uuid", headers=token())).status_code == 404


async def test_results_are_paged_by_keyset(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        answer, _ = pages_api(2)
        live.mock.get(API).mock(side_effect=answer)
        query_id = (await live.api.post("/api/queries/run", json=config(), headers=token())).json()[
            "id"
        ]
        await live.executor.run_until_idle()
        keys: list[str] = []
        after = None
        while True:
            params: dict[str, Any] = {"limit": 15}
            if after is not None:
                params["after"] = after
            page = await live.api.get(
                f"/api/queries/{query_id}/results", params=params, headers=token()
            )
            assert page.status_code == 200
            keys.extend(r["key"] for r in page.json()["rows"])
            after = page.json()["next"]
            if after is None:
                break
        assert len(keys) == len(set(keys)) == 40
        bad = await live.api.get(
            f"/api/queries/{query_id}/results", params={"limit": 0}, headers=token()
        )
        assert bad.status_code == 400 and "limit" in bad.json()["error"]
        unknown = await live.api.get(
            f"/api/queries/{query_id}/results", params={"sort": "x"}, headers=token()
        )
        assert unknown.status_code == 400 and "sort" in unknown.json()["error"]


async def test_stream_sends_progress_until_the_query_ends(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        answer, _ = pages_api(2)
        live.mock.get(API).mock(side_effect=answer)
        query_id = (await live.api.post("/api/queries/run", json=config(), headers=token())).json()[
            "id"
        ]
        events: list[dict[str, Any]] = []

        async def listen() -> None:
            async with live.api.stream(
                "GET", f"/api/queries/{query_id}/stream", headers=token()
            ) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line.removeprefix("data: ")))

        listener = asyncio.create_task(listen())
        for _ in range(3):  # one page at a time, slower than the stream polls
            await live.executor.run_until_idle(advance_clock=False)
            await asyncio.sleep(0.7)
            live.clock.advance(5)
        await live.executor.run_until_idle()
        await asyncio.wait_for(listener, 10)
        assert [e["pagesCompleted"] for e in events] == sorted(e["pagesCompleted"] for e in events)
        assert len({e["pagesCompleted"] for e in events}) >= 2  # progress seen while running
        assert events[-1]["status"] == "completed" and events[-1]["rowsInserted"] == 40


async def test_resume_and_cancel_refuse_a_finished_query(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        answer, _ = pages_api(1)
        live.mock.get(API).mock(side_effect=answer)
        response = await live.api.post("/api/queries/run", json=config(), headers=token())
        query_id = response.json()["id"]
        assert response.status_code == 202 and response.json()["status"] == "pending"
        await live.executor.run_until_idle()
        for action in ("resume", "cancel"):
            refused = await live.api.post(f"/api/queries/{query_id}/{action}", headers=token())
            assert refused.status_code == 409 and refused.json()["code"].startswith("not_")
        stranger = await live.api.get(
            f"/api/queries/{query_id}/results", headers=token("someone-else")
        )
        assert stranger.status_code == 404
        events = [e["name"] for e in live.executor.events]
        assert events.count("query/execute.requested") == 1
        assert "query/execute.cancelled" not in events
