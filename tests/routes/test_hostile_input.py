"""Issue 22: hostile input on every route is a 4xx `{"error","code","field"}` and writes nothing.

Each cause the hostile client found is driven through HTTP against the real app and Postgres.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.harness import Live, LiveFactory
from tests.queries.support import JWT_SECRET, config, query_settings, token
from tests.skills.support import skill_settings

ADMIN_KEY = "admin-key-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
JSON = {"Content-Type": "application/json"}
TABLES = (
    "queries",
    "runs",
    "outputs",
    "feedback",
    "workspaces",
    "workspace_repositories",
    "stripe_deliveries",
)


def _settings(tmp_path: Path) -> dict[str, Any]:
    return {**query_settings(), **skill_settings(tmp_path), "monitoring_api_key": ADMIN_KEY}


def refusal(response: httpx.Response, *, field: str | None = None) -> dict[str, Any]:
    """The body of a 4xx in the one error shape; `field` when the test knows it."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json"), response.text
    body: dict[str, Any] = response.json()
    assert set(body) >= {"error", "code", "field"}, body
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["code"], str) and body["code"]
    if field is not None:
        assert body["field"] == field, body
    return body


async def rows(live: Live) -> dict[str, int]:
    return {t: await live.pool.fetchval(f"select count(*) from {t}") for t in TABLES}


async def _workspace(live: Live) -> str:
    created = await live.api.post("/api/workspaces", json={"name": "Team"}, headers=token())
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


DEEP = b"[" * 10_000 + b"]" * 10_000
DEEP_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000


async def test_deep_json_is_a_400_on_every_body_route(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**_settings(tmp_path)) as live:
        ws = await _workspace(live)
        before = await rows(live)
        paths = [
            "/api/runs",
            f"/api/outputs/{uuid.uuid4()}/feedback",
            "/api/queries/run",
            "/api/workspaces",
            f"/api/workspaces/{ws}/repositories/acme/app",
            "/api/repositories",
            "/api/inngest/test",
        ]
        for path in paths:
            for body in (DEEP, DEEP_OBJECT):
                response = await live.api.post(path, content=body, headers={**token(), **JSON})
                refusal(response)
        # the SDK endpoint in dev mode
        fn_id = next(iter(live.app.state.functions)).get_id()
        response = await live.api.post(f"/api/inngest?fnId={fn_id}&stepId=step", content=DEEP)
        refusal(response)
        assert await rows(live) == before


def _jwt(**claims: Any) -> dict[str, str]:
    base = {
        "sub": "user-1",
        "exp": int(time.time()) + 600,
        "aud": "authenticated",
        "role": "authenticated",
    }
    merged = {k: v for k, v in {**base, **claims}.items() if v is not None}
    return {"Authorization": f"Bearer {jwt.encode(merged, JWT_SECRET, algorithm='HS256')}"}


@pytest.mark.parametrize(
    "claims",
    [
        {"role": ["authenticated"]},
        {"role": {"authenticated": True}},
        {"role": 1},
        {"sub": ""},
        {"sub": "   "},
        {"sub": "user\x00one"},
        {"sub": ["user-1"]},
        {"sub": 12},
        {"sub": "u" * 300},
        {"exp": str(int(time.time()) + 600)},
        {"exp": 1e309},
        {"exp": True},
        {"aud": ["authenticated", {"x": 1}]},
    ],
)
async def test_malformed_jwt_claims_are_401_json_on_every_authenticated_route(
    start_live: LiveFactory, tmp_path: Path, claims: dict[str, Any]
) -> None:
    async with start_live(**_settings(tmp_path)) as live:
        headers = _jwt(**claims)
        for method, path, body in [
            ("POST", "/api/workspaces", {"name": "Team"}),
            ("POST", "/api/queries/run", config()),
            ("POST", "/api/runs", {"skillName": "marketing-brief", "message": "hi"}),
            ("GET", "/api/inngest/monitoring", None),
            ("POST", "/api/repositories", {"owner": "acme", "name": "app"}),
        ]:
            response = await live.api.request(method, path, json=body, headers=headers)
            assert response.status_code == 401, (claims, path, response.text)
            refusal(response, field="Authorization")
        assert await rows(live) == dict.fromkeys(TABLES, 0)


UNSTORABLE_TEXT = ["nul\x00byte", "lone \ud800 surrogate", "\udfff"]


async def _raw(live: Live, path: str, body: str, headers: dict[str, str]) -> httpx.Response:
    """POST a JSON text as written (json= would refuse to encode a lone surrogate)."""
    return await live.api.post(path, content=body.encode(), headers={**headers, **JSON})


@pytest.mark.parametrize(
    "text", [r'"nul\u0000byte"', r'"lone \ud800 surrogate"', r'"\udfff"', r'"a\ud83d"']
)
async def test_text_postgres_cannot_store_is_400_naming_the_field(
    start_live: LiveFactory, tmp_path: Path, text: str
) -> None:
    async with start_live(**_settings(tmp_path)) as live:
        ws = await _workspace(live)
        before = await rows(live)
        cases = [
            ("/api/workspaces", f'{{"name": {text}}}', "name"),
            ("/api/workspaces", f'{{"name": "ok", "slug": {text}}}', "slug"),
            ("/api/runs", f'{{"skillName": "marketing-brief", "message": {text}}}', "message"),
            (
                "/api/runs",
                f'{{"skillName": "marketing-brief", "message": "hi", "options": {{"k": {text}}}}}',
                "options.k",
            ),
            ("/api/repositories", f'{{"owner": {text}, "name": "app"}}', "owner"),
            ("/api/queries/run", f'{{"source": {{"kind": "http", "url": {text}}}}}', None),
            ("/api/inngest/test", f'{{"name": "a/b", "data": {{"k": {text}}}}}', "data.k"),
            ("/api/inngest/test", f'{{"name": "a/b", "data": {{{text}: 1}}}}', "data"),
            (f"/api/workspaces/{ws}/repositories/acme/app", f'{{"isPriority": {text}}}', None),
        ]
        for path, body, field in cases:
            refusal(await _raw(live, path, body, token()), field=field)
        assert await rows(live) == before


@pytest.mark.parametrize(
    "number", ["NaN", "Infinity", "-Infinity", "1e309", "-1e400", str(2**64), str(-(2**63) - 1)]
)
async def test_numbers_out_of_range_are_400_not_503(
    start_live: LiveFactory, tmp_path: Path, number: str
) -> None:
    async with start_live(**_settings(tmp_path)) as live:
        before = await rows(live)
        cases = [
            ("/api/workspaces", f'{{"name": "t", "dataRetentionDays": {number}}}'),
            ("/api/queries/run", json.dumps(config())[:-1] + f', "max_pages": {number}}}'),
            ("/api/queries/run", json.dumps(config())[:-1] + f', "page_delay_s": {number}}}'),
            (
                "/api/runs",
                f'{{"skillName": "marketing-brief", "message": "x", "options": {{"n": {number}}}}}',
            ),
            ("/api/inngest/test", f'{{"name": "a/b", "data": {{"n": {number}}}}}'),
        ]
        for path, body in cases:
            refusal(await _raw(live, path, body, token()))
        assert await rows(live) == before


@pytest.mark.parametrize(
    "days", ["²", "٣", "1" * 10_000, "-1", "0", "367", "+5", " 5", "5.0", "1e2", ""]
)
async def test_metrics_days_outside_the_rule_is_400_naming_days(
    start_live: LiveFactory, tmp_path: Path, days: str
) -> None:
    async with start_live(**_settings(tmp_path)) as live:
        ws = await _workspace(live)
        response = await live.api.get(
            f"/api/workspaces/{ws}/metrics", params={"days": days}, headers=token()
        )
        refusal(response, field="days")


async def test_metrics_days_boundaries_are_accepted(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**_settings(tmp_path)) as live:
        ws = await _workspace(live)
        for days in ("1", "366"):
            response = await live.api.get(
                f"/api/workspaces/{ws}/metrics", params={"days": days}, headers=token()
            )
            assert response.status_code == 200, response.text


@pytest.mark.parametrize("user_id", [None, 1, True, ["user-1"], {"id": "x"}, "", "a\x00b"])
async def test_admin_user_id_must_be_a_user_id_string(
    start_live: LiveFactory, tmp_path: Path, user_id: Any
) -> None:
    async with start_live(**_settings(tmp_path)) as live:
        response = await live.api.post(
            "/api/queries/run", json={**config(), "userId": user_id}, headers=ADMIN
        )
        refusal(response, field="userId")
        response = await live.api.post(
            "/api/runs",
            json={"skillName": "marketing-brief", "message": "hi", "userId": user_id},
            headers=ADMIN,
        )
        refusal(response, field="userId")
        response = await live.api.post(
            "/api/workspaces", json={"name": "x", "ownerId": user_id}, headers=ADMIN
        )
        refusal(response, field="ownerId")
        assert await rows(live) == dict.fromkeys(TABLES, 0)


async def test_query_results_parameters_past_64_bits_are_400(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**_settings(tmp_path)) as live:
        query_id = uuid.uuid4()
        for params, field in (
            ({"after": str(2**63)}, "after"),
            ({"after": "1" * 5000}, "after"),
            ({"limit": "²"}, "limit"),
            ({"limit": "0"}, "limit"),
            ({"limit": "1001"}, "limit"),
        ):
            response = await live.api.get(
                f"/api/queries/{query_id}/results", params=params, headers=token()
            )
            refusal(response, field=field)


async def test_path_ids_that_are_not_ids_are_404_json(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**_settings(tmp_path)) as live:
        for path in (
            "/api/queries/%00",
            "/api/queries/%ED%A0%80",
            "/api/runs/not-a-uuid",
            "/api/outputs/" + "1" * 5000,
            "/api/workspaces/%F0%9F%98%80",
        ):
            response = await live.api.get(path, headers=token())
            assert response.status_code == 404, (path, response.text)
            refusal(response)


async def test_the_json_rule_boundaries(start_live: LiveFactory, tmp_path: Path) -> None:
    """32 levels of nesting and 64-bit integers are accepted; one more level or one past is not."""

    def nested(levels: int) -> str:  # the body object is the first level, `data` the second
        return '{"name": "a/b", "data": {"x": ' + "[" * (levels - 2) + "]" * (levels - 2) + "}}"

    async with start_live(**_settings(tmp_path)) as live:
        ok = await _raw(live, "/api/inngest/test", nested(32), {})
        assert ok.status_code == 200, ok.text
        deep = await _raw(live, "/api/inngest/test", nested(33), {})
        assert refusal(deep)["code"] == "too_deep"
        for number in (str(2**63 - 1), str(-(2**63)), "1.7976931348623157e308", "-0.0"):
            body = f'{{"name": "a/b", "data": {{"n": {number}}}}}'
            answer = await _raw(live, "/api/inngest/test", body, {})
            assert answer.status_code == 200, (number, answer.text)
        for number in (str(2**63), str(-(2**63) - 1), "1.8e308"):
            body = f'{{"name": "a/b", "data": {{"n": {number}}}}}'
            refusal(await _raw(live, "/api/inngest/test", body, {}))
        # free text keeps control characters; a name does not
        free = '{"name": "a/b", "data": {"t": "a\\tb\\u0007"}}'
        text = await _raw(live, "/api/inngest/test", free, {})
        assert text.status_code == 200, text.text
        refusal(await _raw(live, "/api/inngest/test", '{"name": "a/\\u0007b"}', {}), field="name")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/runs", {"skillName": "marketing-brief", "message": "x", "options": {"k": [1]}},
         "options.k"),
        ("/api/runs", {"skillName": "marketing-brief", "message": "x", "clientId": 7},
         "clientId"),
        ("/api/runs", {"skillName": "marketing-brief", "message": 5}, "message"),
        ("/api/queries/run", {**config(), "source": {**config()["source"], "url": "nope"}},
         "source.url"),
        ("/api/queries/run", {**config(), "source": {**config()["source"], "pagination": {
            "style": "page", "size": "20"}}}, "source.pagination.size"),
        ("/api/queries/run", {**config(), "max_rows": "100"}, "max_rows"),
        ("/api/queries/run", {**config(), "auto_resume": 1}, "auto_resume"),
        ("/api/workspaces", {"name": "x", "dataRetentionDays": 30.0}, "dataRetentionDays"),
        ("/api/workspaces", {"name": ["x"]}, "name"),
        ("/api/workspaces", {"name": "line\nbreak"}, "name"),
        ("/api/repositories", {"owner": "acme", "name": 5}, "name"),
        ("/api/inngest/test", {"name": "a/b", "data": {"x": 1}, "id": ""}, "id"),
    ],
)  # fmt: skip
async def test_a_wrong_type_is_400_naming_the_field_as_sent(
    start_live: LiveFactory, tmp_path: Path, path: str, body: dict[str, Any], field: str
) -> None:
    """Strict types: no string for a number, no 1 for true, no 30.0 for 30, no list for text."""
    async with start_live(**_settings(tmp_path)) as live:
        refusal(await live.api.post(path, json=body, headers=token()), field=field)
        assert await rows(live) == dict.fromkeys(TABLES, 0)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"functionId": "a\x00b"}, "functionId"),
        ({"userId": "\x00"}, "userId"),
        ({"startDate": "2026-01-01\x00"}, "startDate"),
        ({"endDate": "9" * 5000}, "endDate"),
        ({"surprise": "1"}, "surprise"),
    ],
)
async def test_stats_parameters_postgres_cannot_take_are_400(
    start_live: LiveFactory, tmp_path: Path, params: dict[str, str], field: str
) -> None:
    async with start_live(**_settings(tmp_path)) as live:
        for headers in (token(), ADMIN):
            response = await live.api.get("/api/inngest/monitoring", params=params, headers=headers)
            refusal(response, field=field)
