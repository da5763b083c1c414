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


def asset(name: str, package: str = __name__) -> bytes:
    """The bytes of one file of `package` (this one by default: `dashboard.html`, `pages.css`)."""
    return resources.files(package).joinpath(name).read_bytes()


def asset_route(path: str, name: str, package: str = __name__) -> Route:
    """`GET path` answers the file `name` of `package`, read once, when the route is built."""
    body = asset(name, package)
    media_type = CONTENT_TYPES[name[name.rindex(".") :]]

    async def serve(_: Request) -> Response:
        return Response(body, media_type=media_type, headers=SECURITY_HEADERS)

    return Route(path, serve, methods=["GET"], name=f"page:{name}")


def page_routes(
    page_path: str, page: str, assets_prefix: str, assets: list[str], *, package: str = __name__
) -> list[BaseRoute]:
    """`GET page_path` answers the HTML file `page`; `GET <assets_prefix>/<name>` each asset;
    all of them files of `package`."""
    return [
        asset_route(page_path, page, package),
        *(asset_route(f"{assets_prefix}/{name}", name, package) for name in assets),
    ]
