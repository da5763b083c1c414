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
    services: Services,
    handler: CallerHandler,
    *,
    unavailable: tuple[type[Exception], ...] = (),
) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint that authenticates the caller (401/403 as JSON) and answers a store fault,
    or any of the `unavailable` errors (another backing service down), with 503, then runs
    `handler(request, caller)`."""

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
            return error_response(503, "store_unavailable", "storage is unavailable")
        except unavailable as exc:
            logger.warning("%s: storage error: %s", request.url.path, exc)
            return error_response(503, "store_unavailable", "storage is unavailable")

    return endpoint


async def json_object(
    request: Request, *, optional: bool = False, max_bytes: int | None = None
) -> dict[str, Any] | Response:
    """The request body as a JSON object, or the 400 (413 past `max_bytes`) that says why it is
    not one. With `optional`, an empty body is `{}`."""
    raw = await request.body()
    if max_bytes is not None and len(raw) > max_bytes:
        return error_response(413, "body_too_large", f"request body over {max_bytes} bytes")
    if optional and not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        return error_response(400, "invalid_json", "request body is not valid JSON")
    if not isinstance(body, dict):
        return error_response(400, "invalid_body", "request body must be a JSON object")
    return body
