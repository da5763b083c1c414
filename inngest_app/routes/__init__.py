"""HTTP routes other than the SDK endpoint, one module per area."""

from __future__ import annotations

from starlette.routing import BaseRoute

from inngest_app.routes import (
    clients,
    dev,
    docs,
    github,
    health,
    monitoring,
    pages,
    queries,
    skills,
    stripe,
    workspaces,
)
from inngest_app.services import Services


def build_routes(services: Services) -> list[BaseRoute]:
    """Every HTTP route of the service (the SDK endpoint is added by the app factory)."""
    return [
        *health.routes(services),
        *monitoring.routes(services),
        *queries.routes(services),
        *stripe.routes(services),
        *github.routes(services),
        *workspaces.routes(services),
        *skills.routes(services),
        *clients.routes(services),
        *dev.routes(services),
        *pages.routes(services),
        *docs.routes(services),
    ]
