"""A plain ASGI middleware that bounds every request body, counting the bytes actually received.

A `Content-Length` above the route's limit is refused before anything is read; a body without
one (chunked) or one that lies is counted as the app reads it, and refused once past the limit.
Either way the answer is a 413 JSON error and the rest of the body is never read (uvicorn then
closes the connection): the app sees the client as gone. Nothing is buffered here, so a route
may still refuse a request (e.g. unsigned) before reading its body at all.
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
        received = 0
        refused = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await _too_large(limit)(scope, receive, send)
                    # To the app the client has gone: it stops reading and answers nothing.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 was the answer
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not refused:
                raise  # the app's own failure; after a refusal it is only the disconnect


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
        {
            "error": f"the request body exceeds {limit} bytes",
            "code": "body_too_large",
            "field": None,
        },
        status_code=413,
        headers={"Connection": "close"},
    )
