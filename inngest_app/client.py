"""The Inngest client, built from settings (never from the SDK's own reading of the environment)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import inngest
from inngest._internal import net

from inngest_app import __version__
from inngest_app.logs import bind_run
from inngest_app.sdk_memos import patch_step_memos
from inngest_app.settings import Settings

logger = logging.getLogger("inngest_app.functions")


def _secret(value: object) -> str | None:
    return None if value is None else value.get_secret_value()  # type: ignore[attr-defined]


class RunLogContext(inngest.Middleware):
    """Binds the function id, run id and attempt to every log record of the call."""

    async def transform_input(
        self, ctx: Any, function: inngest.Function[Any], steps: inngest.StepMemos
    ) -> None:
        fn_id = function.id
        if ctx.event.name == "inngest/function.failed" and function.on_failure_fn_id:
            fn_id = function.on_failure_fn_id
        bind_run(function_id=fn_id, run_id=ctx.run_id, attempt=ctx.attempt)


def build_client(
    settings: Settings,
    *,
    middleware: Sequence[inngest._internal.middleware_lib.UninitializedMiddleware] = (),
) -> inngest.Inngest:
    """An Inngest client in dev or cloud mode, keys and origins taken from `settings`.

    It also patches the SDK's replay of memoized steps and its reading of a request body
    (`sdk_memos.py`, `sdk_json.py`): without them each call costs O(memoized steps²) and parses
    the body three times; an SDK other than the reviewed one fails here, at start-up."""
    patch_step_memos()
    signing_key = _secret(settings.inngest_signing_key)
    client = inngest.Inngest(
        app_id=settings.inngest_app_id,
        app_version=__version__,
        is_production=not settings.inngest_dev,
        api_base_url=settings.api_base_url,
        event_api_base_url=settings.event_api_base_url,
        event_key=_secret(settings.inngest_event_key),
        signing_key=signing_key,
        logger=logger,
        middleware=[RunLogContext, *middleware],
        request_timeout=int(settings.http_timeout_s * 1000),
    )
    # The SDK reads the fallback key only from os.environ; hand it ours so settings stay the
    # single source (the serve handler and the outgoing API client both read these).
    fallback = _secret(settings.inngest_signing_key_fallback)
    client._signing_key_fallback = fallback
    client._http_client = net.AuthenticatedHTTPClient(
        env=client.env, signing_key=signing_key, signing_key_fallback=fallback
    )
    return client


async def close_client(client: inngest.Inngest) -> None:
    """Close the SDK's pooled HTTP connections (it never does so itself)."""
    http = client._http_client
    await http._http_client.aclose()
    http._http_client_sync.close()
