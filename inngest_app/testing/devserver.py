"""Driving a real Inngest Dev Server, when one is reachable (`INNGEST_DEV_SERVER_URL`).

The overlap with `TestExecutor`: sync an app, send events, and wait for the runs of an event via
the REST API (`GET /v1/events/{id}/runs` -> `data[].status`, `output`). `TestExecutor` serves
that endpoint too, so a scenario written against this driver runs against either server.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from typing import Any, overload

import httpx

SKIP_REASON = (
    "INNGEST_DEV_SERVER_URL not set: the Dev Server binary cannot be downloaded on this "
    "machine (no internet)"
)
ENDED = ("Completed", "Failed", "Cancelled")


def dev_server_url_or_skip_reason() -> tuple[str | None, str | None]:
    """(url, None) when a Dev Server answers at INNGEST_DEV_SERVER_URL, else (None, reason)."""
    url = os.environ.get("INNGEST_DEV_SERVER_URL")
    if not url:
        return None, SKIP_REASON
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError as exc:
        return None, f"no Dev Server answers at INNGEST_DEV_SERVER_URL={url}: {exc}"
    return url.rstrip("/"), None


dev_server_url = dev_server_url_or_skip_reason  # the name the first end-to-end test uses


class DevServerDriver:
    """Sync, send and wait, against a Dev Server (or a `TestExecutor` running in the background).

    `url` is the server's origin; `http` a client the caller owns."""

    def __init__(self, url: str, http: httpx.AsyncClient, *, event_key: str = "dev") -> None:
        self.url = url.rstrip("/")
        self._http = http
        self._event_key = event_key

    async def sync(self, app_url: str) -> httpx.Response:
        """Ask the app to register with the server (`PUT` its serve URL); the app's answer."""
        return await self._http.put(app_url, timeout=30)

    @overload
    async def send(self, events: Mapping[str, Any]) -> str: ...

    @overload
    async def send(self, events: Iterable[Mapping[str, Any]]) -> list[str]: ...

    async def send(
        self, events: Mapping[str, Any] | Iterable[Mapping[str, Any]]
    ) -> str | list[str]:
        """Send one event (its id) or a list of events (their ids) to the event API."""
        payload = dict(events) if isinstance(events, Mapping) else [dict(e) for e in events]
        response = await self._http.post(f"{self.url}/e/{self._event_key}", json=payload)
        response.raise_for_status()
        ids = [str(i) for i in response.json()["ids"]]
        return ids[0] if isinstance(events, Mapping) else ids

    async def runs_of(self, event_id: str) -> list[dict[str, Any]]:
        """The runs `event_id` started, as the REST API shows them (none while unknown)."""
        response = await self._http.get(f"{self.url}/v1/events/{event_id}/runs")
        if response.status_code != 200:
            return []
        return [dict(run) for run in response.json().get("data") or []]

    async def wait_for_run(
        self, event_id: str, *, status: str | None = None, within_s: float = 30
    ) -> dict[str, Any]:
        """The first run of `event_id` in `status` (e.g. "Completed"; compared without case),
        or once it ended when `status` is None. `TimeoutError` after `within_s` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within_s
        wanted = None if status is None else status.lower()
        last: list[dict[str, Any]] = []
        while loop.time() < deadline:
            last = await self.runs_of(event_id)
            for run in last:
                state = str(run.get("status"))
                if state.lower() == wanted or (wanted is None and state in ENDED):
                    return run
            await asyncio.sleep(0.2)
        raise TimeoutError(f"no run of event {event_id} reached {status or 'an end'}: {last}")
