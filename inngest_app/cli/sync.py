"""`python -m inngest_app register [--url URL]`: register the app with Inngest (out-of-band sync).

What a deploy pipeline runs instead of an open `PUT /api/inngest`: the SDK builds the app's
function configurations and posts them to Inngest's `/fn/register`, authenticated by
`INNGEST_SIGNING_KEY` (the fallback key is tried too). The URL registered is `--url`, else
`INNGEST_SERVE_ORIGIN` + `INNGEST_SERVE_PATH`. Nothing is served or opened besides that request.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from inngest._internal import comm_lib

from inngest_app.client import close_client
from inngest_app.serve import FRAMEWORK
from inngest_app.settings import Settings, load_settings


class RegisterError(Exception):
    """The app could not be registered."""


def serve_url(settings: Settings, url: str | None) -> str:
    """The URL to register: `url`, or the configured origin and path."""
    if url:
        return url
    if not settings.inngest_serve_origin:
        raise RegisterError("give --url, or set INNGEST_SERVE_ORIGIN (e.g. https://app.example)")
    return settings.inngest_serve_origin.rstrip("/") + settings.inngest_serve_path


async def register_app(settings: Settings, *, url: str | None = None) -> dict[str, Any]:
    """Register every function at the app's URL with Inngest; its answer, or `RegisterError`."""
    from inngest_app.app import create_app

    app_url = serve_url(settings, url)
    app = create_app(settings)
    client = app.state.services.inngest
    try:
        handler = comm_lib.CommHandler(
            client=client,
            enable_unauthed_sync=True,  # the request is ours: nobody else's PUT reaches this
            framework=FRAMEWORK,
            functions=app.state.functions,
            streaming=None,
        )
        response = await handler.put(
            comm_lib.CommRequest(
                body=b"",
                headers={},
                public_path=None,
                query_params={},
                raw_request=None,
                request_url=app_url,
                serve_origin=None,
                serve_path=None,
            )
        )
    finally:
        await close_client(client)
    body = response.body if isinstance(response.body, dict) else {"answer": response.body}
    # The SDK (0.5) answers 200 even when Inngest refused: the refusal is in the body.
    if response.status_code >= 400 or body.get("error"):
        detail = body.get("error") or body.get("message") or json.dumps(body, default=str)
        raise RegisterError(f"Inngest refused the registration ({response.status_code}): {detail}")
    return {"url": app_url, "functions": len(app.state.functions), **body}


async def _run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    try:
        done = await register_app(settings or load_settings(), url=args.url)
    except RegisterError as exc:
        print(f"error: {exc}")
        return 1
    print(f"registered {done['functions']} functions at {done['url']}")
    return 0


def register(subparsers: Any) -> None:
    """Add `register [--url URL]`."""
    parser = subparsers.add_parser(
        "register", help="register the app with Inngest, authenticated by the signing key"
    )
    parser.add_argument("--url", default=None, help="the app's public /api/inngest URL")
    parser.set_defaults(handler=_run)
