"""`POST /api/inngest/test`: send any `{name, data}` event, in dev mode only.

A convenience for local work (trigger a function from curl without the dev server's UI). In
cloud mode the route is not mounted at all, so it answers 404 like any unknown path.
"""

from __future__ import annotations

import logging
from typing import Any

import inngest
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from inngest_app.inputs import Line
from inngest_app.routes.api import Operation, body_of, public_route
from inngest_app.serve import error_response
from inngest_app.services import Services

logger = logging.getLogger(__name__)

TEST_PATH = "/api/inngest/test"


class DevEvent(BaseModel):
    """The request body: an event name and its data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Line = Field(min_length=1, max_length=200, pattern=r"^\S+$")
    data: dict[str, Any] = Field(default_factory=dict)
    id: Line | None = Field(None, min_length=1, max_length=255)


class DevSent(BaseModel):
    """What `POST /api/inngest/test` answers: the ids Inngest gave the event."""

    ids: list[str]
    name: str


def routes(services: Services) -> list[BaseRoute]:
    """The test-event route in dev mode; nothing in cloud mode."""
    if not services.settings.inngest_dev:
        return []

    async def send_test_event(request: Request) -> Response:
        payload = body_of(request, DevEvent)
        event = inngest.Event(name=payload.name, data=payload.data, id=payload.id or "")
        try:
            ids = await services.inngest.send(event)
        except Exception as exc:  # the dev server is down or refused the event
            logger.warning("test event %s not sent: %s", payload.name, type(exc).__name__)
            return error_response(502, "inngest_unavailable", "the event could not be sent")
        return JSONResponse({"ids": ids, "name": payload.name})

    operation = Operation(
        "Send any event (dev mode only)",
        "dev",
        response=DevSent,
        body=DevEvent,
        body_code="body_invalid",
        auth=False,
        errors={502: "the Dev Server is unreachable"},
    )
    return [public_route("POST", TEST_PATH, send_test_event, operation)]
