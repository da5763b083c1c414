"""`GET /monitoring`: the usage dashboard, a static page that reads the monitoring API.

The page itself needs no auth (it holds no data); the script asks for the admin key or a user
token and sends it to `GET /api/inngest/monitoring` as a bearer header.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from inngest_app.pages import page_routes
from inngest_app.services import Services


def routes(_: Services) -> list[BaseRoute]:
    """The dashboard page and its script and styles."""
    return page_routes(
        "/monitoring",
        "dashboard.html",
        "/monitoring",
        ["dashboard.js", "dashboard-draw.js", "dashboard-runs.js", "dashboard.css", "pages.css"],
    )
