"""A plain ASGI middleware that bounds every request body, counting the bytes actually received.

A `Content-Length` above the route's limit is refused before anything is read; a body without
one (chunked) or one that lies is read only up to the limit, then refused. Either way the answer
is a 413 JSON error and the rest of the body is never read (uvicorn then closes the connection).
A body within the limit is handed to the app unchanged, followed by the client's own messages,
so streaming responses still see `http.disconnect`.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Inngest's limit on a function run's state (events + step results) is 32 MB, and each call
# carries that state: https://www.inngest.com/docs/usage-limits/inngest ("Function run state
# size"). One more MiB covers the call's envelope (ctx, stack of up to 1,000 step ids).
SDK_MAX_BODY_BYTES = 33 << 20
# Everything else takes small JSON bodies (query configs, test events).
DEFAULT_MAX_BODY_BYTES = 256 << 10


class BodyLimit:
    """Refuse request bodies larger than the limit of their path (`default` elsewhere)."""

    def __init__(
        self, app: ASGIApp, *, limits: Mapping[str, int], default: int = DEFAULT_MAX_BODY_BYTES
    ) -> None:
        self.app = app
        self.limits = dict(limits)
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(limit)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left before finishing
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(limit)(scope, receive, send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"error": f"the request body exceeds {limit} bytes", "code": "body_too_large"},
        status_code=413,
        headers={"Connection": "close"},
    )
