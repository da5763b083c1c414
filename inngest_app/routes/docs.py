"""`GET /api/openapi.json` (the generated OpenAPI 3.1 document) and `GET /api/docs` (its reference
page: Swagger UI from the `swagger-ui-bundle-v2` wheel, served from here under the strict CSP)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from inngest_app import __version__
from inngest_app.pages import CONTENT_TYPES, SECURITY_HEADERS, asset
from inngest_app.routes.api import Operation, path_of, public_route
from inngest_app.services import Services

SPEC_PATH = "/api/openapi.json"
DOCS_PATH = "/api/docs"
Asset = Literal["swagger-ui.css", "swagger-ui-bundle.js", "docs.js"]


class AssetPath(BaseModel):
    """`{name}` of `/api/docs/{name}`: one of the reference page's files."""

    name: Asset


def _swagger_asset(name: str) -> bytes:
    from swagger_ui_bundle import swagger_ui_path

    return (swagger_ui_path / name).read_bytes()  # type: ignore[no-any-return]


def routes(services: Services) -> list[BaseRoute]:
    """The document and its reference page."""
    title = f"{services.settings.inngest_app_id} HTTP API"
    files: dict[str, bytes] = {}

    def file(name: str) -> bytes:
        if name not in files:  # read once, on first use
            files[name] = asset(name) if name.startswith("docs.") else _swagger_asset(name)
        return files[name]

    async def spec(request: Request) -> Response:
        document = getattr(request.app.state, "openapi", None)
        if document is None:
            from inngest_app.openapi import openapi_document  # it imports the routes

            document = openapi_document(request.app.routes, title=title, version=__version__)
            request.app.state.openapi = document
        return JSONResponse(document)

    async def page(_: Request) -> Response:
        return Response(
            file("docs.html"), media_type=CONTENT_TYPES[".html"], headers=SECURITY_HEADERS
        )

    async def static(request: Request) -> Response:
        name = path_of(request, AssetPath).name
        media_type = CONTENT_TYPES[name[name.rindex(".") :]]
        return Response(file(name), media_type=media_type, headers=SECURITY_HEADERS)

    tag = "docs"
    return [
        public_route("GET", SPEC_PATH, spec, Operation("This OpenAPI document", tag, auth=False)),
        public_route(
            "GET",
            DOCS_PATH,
            page,
            Operation("The API reference page", tag, auth=False, media_type=CONTENT_TYPES[".html"]),
        ),
        public_route(
            "GET",
            f"{DOCS_PATH}/{{name}}",
            static,
            Operation(
                "The reference page's scripts and styles",
                tag,
                auth=False,
                params=AssetPath,
                media_type="text/*",
            ),
        ),
    ]
