"""Pages people look at: plain HTML, CSS and a small script each, served by the apps themselves.

No build step and no third-party code: scripts build the page with DOM calls (text, never
markup, so nothing from the data is interpreted) and draw charts as SVG. Every page and asset
goes out with a strict Content-Security-Policy: same-origin scripts, styles and `fetch` only.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def asset(name: str) -> bytes:
    """The bytes of one file of this package (`dashboard.html`, `pages.css`, ...)."""
    return resources.files(__name__).joinpath(name).read_bytes()


def page_routes(
    page_path: str, page: str, assets_prefix: str, assets: list[str]
) -> list[BaseRoute]:
    """`GET page_path` answers the HTML file `page`; `GET <assets_prefix>/<name>` each asset.

    Files are read once, when the routes are built."""

    def handler(name: str) -> Route:
        body = asset(name)
        media_type = CONTENT_TYPES[name[name.rindex(".") :]]

        async def serve(_: Request) -> Response:
            return Response(body, media_type=media_type, headers=SECURITY_HEADERS)

        path = page_path if name == page else f"{assets_prefix}/{name}"
        return Route(path, serve, methods=["GET"], name=f"page:{name}")

    return [handler(page), *(handler(name) for name in assets)]
