"""The repositories API over HTTP: auth, validation, discovery and sync through the executor."""

from __future__ import annotations

import pytest

from tests.github.fake import GRAPHQL_URL, FakeGithub, pull_requests_from_pr_list
from tests.harness import LiveFactory

ADMIN_KEY = "admin-key-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture(autouse=True)
def _fast_send_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("inngest._internal.client_lib.client.RETRY_BASE_DELAY", 0.0)


async def test_track_read_and_sync(start_live: LiveFactory) -> None:
    fake = FakeGithub()
    fake.add_repository(
        "monalisa", "hello", database_id=123456, pull_requests=pull_requests_from_pr_list()
    )
    async with start_live(github_token="ghp_x", monitoring_api_key=ADMIN_KEY) as live:
        live.mock.post(GRAPHQL_URL).mock(side_effect=fake.handle)
        assert (await live.api.get("/api/repositories/monalisa/hello")).status_code == 401
        missing = await live.api.get("/api/repositories/monalisa/hello", headers=ADMIN)
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"

        tracked = await live.api.post(
            "/api/repositories", json={"owner": "monalisa", "name": "hello"}, headers=ADMIN
        )
        assert tracked.status_code == 202, tracked.text
        assert tracked.json()["status"] == "discovering"
        await live.executor.run_until_idle()  # discovery, then the initial sync

        found = await live.api.get("/api/repositories/monalisa/hello", headers=ADMIN)
        assert found.status_code == 200
        body = found.json()
        assert body["counts"]["pull_requests"] == 3 and body["size_class"] == "small"
        assert body["sync"]["status"] == "active" and body["sync"]["last_synced_at"]
        assert body["sync"]["last_reason"] == "automatic"
        assert isinstance(body["id"], int)

        synced = await live.api.post("/api/repositories/monalisa/hello/sync", headers=ADMIN)
        assert synced.status_code == 202
        await live.executor.run_until_idle()
        # discovery captured it with the enhanced sync (reviews and comments too), and a user's
        # sync asks for the same
        runs = live.executor.runs("capture-repository-sync-enhanced")
        assert [r.event["data"]["reason"] for r in runs] == ["automatic", "manual"]
        # Synced seconds ago: a manual sync within 5 minutes is skipped, not re-run.
        assert runs[-1].output["status"] == "skipped"


@pytest.mark.parametrize(
    "body",
    [
        {"owner": "../etc", "name": "x"},
        {"owner": "ok", "name": "a/b"},
        {"owner": "ok"},
        {"owner": "-bad", "name": "x"},
    ],
)
async def test_bad_names_are_refused_and_send_nothing(
    start_live: LiveFactory, body: dict[str, str]
) -> None:
    async with start_live(monitoring_api_key=ADMIN_KEY) as live:
        refused = await live.api.post("/api/repositories", json=body, headers=ADMIN)
        assert refused.status_code == 400 and refused.json()["code"] == "invalid_repository"
        bad_path = await live.api.post("/api/repositories/-bad/x/sync", headers=ADMIN)
        assert bad_path.status_code == 400
        assert live.executor.events == []
