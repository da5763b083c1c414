"""Issue 22: the OpenAPI 3.1 document, generated from the routes' models, describes them all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import Route

from inngest_app.app import create_app
from inngest_app.openapi import described
from inngest_app.settings import Settings
from tests.apps import in_process

# Every route of the API must be described; pages (the dashboard, ...) are not API.
DESCRIBED = ("/api/", "/healthz", "/metrics")


async def _document(settings: Settings) -> tuple[Any, dict[str, Any]]:
    app = create_app(settings)
    async with in_process(app) as client:
        response = await client.get("/api/openapi.json")
        assert response.status_code == 200
        return app, response.json()


async def test_every_api_route_is_described(make_settings: Callable[..., Settings]) -> None:
    for settings in (make_settings(), make_settings(monitoring_enabled=False)):
        app, document = await _document(settings)
        assert document["openapi"] == "3.1.0"
        checked = 0
        for route in app.routes:
            assert isinstance(route, Route)
            if not route.path.startswith(DESCRIBED):
                continue
            for method in sorted((route.methods or set()) - {"HEAD"}):
                assert described(route.path, method, document), f"{method} {route.path}"
                checked += 1
        assert checked >= 25


async def test_a_route_added_without_a_contract_is_caught(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings())

    async def endpoint(_: Any) -> Any:
        raise AssertionError

    app.router.routes.append(Route("/api/forgotten", endpoint, methods=["POST"]))
    async with in_process(app) as client:
        document = (await client.get("/api/openapi.json")).json()
    assert not described("/api/forgotten", "POST", document)


async def test_the_document_says_what_the_models_enforce(
    make_settings: Callable[..., Settings],
) -> None:
    _, document = await _document(make_settings())
    schemas = document["components"]["schemas"]
    assert schemas["Error"]["required"] == ["error", "code", "field"]
    create = document["paths"]["/api/workspaces"]["post"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schemas[body_ref.rsplit("/", 1)[-1]]
    assert body["required"] == ["name"] and body["additionalProperties"] is False
    assert body["properties"]["name"]["maxLength"] == 200
    assert body["properties"]["dataRetentionDays"]["anyOf"][0]["maximum"] == 3650
    assert {"400", "401", "413", "201", "409"} <= set(create["responses"])
    metrics = document["paths"]["/api/workspaces/{workspace_id}/metrics"]["get"]
    (days,) = [p for p in metrics["parameters"] if p["name"] == "days"]
    assert days["in"] == "query" and not days["required"]
    assert (days["schema"]["minimum"], days["schema"]["maximum"]) == (1, 366)
    results = document["paths"]["/api/queries/{query_id}/results"]["get"]
    (query_id,) = [p for p in results["parameters"] if p["in"] == "path"]
    assert query_id["schema"]["format"] == "uuid" and query_id["required"]
    run = document["paths"]["/api/runs"]["post"]
    assert run["security"] == [{"bearer": []}] and "202" in run["responses"]
    assert document["paths"]["/api/stripe/webhook"]["post"]["responses"]["200"]


async def test_the_reference_page_and_its_assets_are_served_locally_under_the_csp(
    make_settings: Callable[..., Settings],
) -> None:
    async with in_process(create_app(make_settings())) as client:
        page = await client.get("/api/docs")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        for name in ("swagger-ui-bundle.js", "docs.js", "swagger-ui.css"):
            src = f"/api/docs/{name}"
            assert src in page.text
            asset = await client.get(src)
            assert asset.status_code == 200 and len(asset.content) > 100, src
            assert asset.headers["content-security-policy"] == csp
        assert "http" not in page.text.replace("http-equiv", "")
        missing = await client.get("/api/docs/../../etc/passwd")
        assert missing.status_code == 404
        other = await client.get("/api/docs/index.html")
        assert other.status_code == 404 and other.json()["field"] == "name"
