"""`POST /api/inngest/test`: send any `{name, data}` event, in dev mode only.

A convenience for local work (trigger a function from curl without the dev server's UI). In
cloud mode the route is not mounted at all, so it answers 404 like any unknown path.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import inngest
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from inngest_app.events import describe_validation_error
from inngest_app.serve import error_response
from inngest_app.services import Services

logger = logging.getLogger(__name__)

TEST_PATH = "/api/inngest/test"


class DevEvent(BaseModel):
    """The request body: an event name and its data."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200, pattern=r"^\S+$")
    data: dict[str, Any] = Field(default_factory=dict)
    id: str | None = Field(None, min_length=1, max_length=255)


def routes(services: Services) -> list[BaseRoute]:
    """The test-event route in dev mode; nothing in cloud mode."""
    if not services.settings.inngest_dev:
        return []

    async def send_test_event(request: Request) -> Response:
        try:
            payload = DevEvent.model_validate(json.loads(await request.body()))
        except ValueError as exc:
            message = (
                describe_validation_error(exc)
                if isinstance(exc, ValidationError)
                else "the body is not valid JSON"
            )
            return error_response(400, "body_invalid", message)
        event = inngest.Event(name=payload.name, data=payload.data, id=payload.id or "")
        try:
            ids = await services.inngest.send(event)
        except Exception as exc:  # the dev server is down or refused the event
            logger.warning("test event %s not sent: %s", payload.name, type(exc).__name__)
            return error_response(502, "inngest_unavailable", "the event could not be sent")
        return JSONResponse({"ids": ids, "name": payload.name})

    return [Route(TEST_PATH, send_test_event, methods=["POST"])]
