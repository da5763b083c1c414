"""What every user-facing JSON API route shares: the caller auth, store faults, JSON bodies."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from inngest_app.auth import AuthError, Caller, authenticate
from inngest_app.serve import error_response
from inngest_app.services import Services
from inngest_app.store import StoreError

logger = logging.getLogger(__name__)

CallerHandler = Callable[[Request, Caller], Awaitable[Response]]


def with_caller(
    services: Services, handler: CallerHandler
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that authenticates the caller (401/403 as JSON) and answers a store fault
    with 503, then runs `handler(request, caller)`."""

    async def endpoint(request: Request) -> Response:
        try:
            caller = await authenticate(request, services.settings)
            return await handler(request, caller)
        except AuthError as exc:
            return error_response(
                exc.status, "unauthorized" if exc.status == 401 else "forbidden", str(exc)
            )
        except StoreError as exc:
            logger.warning("%s: store error: %s", request.url.path, exc)
            if not exc.retriable:  # the store refused the input (a check, a bound)
                return error_response(400, "rejected", "the request was refused by the store")
            return error_response(503, "store_unavailable", "storage is unavailable")

    return endpoint


async def json_object(request: Request, *, optional: bool = False) -> dict[str, Any] | Response:
    """The request body as a JSON object, or the 400 that says why it is not one.
    With `optional`, an empty body is `{}`."""
    raw = await request.body()
    if optional and not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return error_response(400, "invalid_json", "request body is not valid JSON")
    if not isinstance(body, dict):
        return error_response(400, "invalid_body", "request body must be a JSON object")
    return body
