"""Driving a real Inngest Dev Server, when one is reachable (`INNGEST_DEV_SERVER_URL`).

The end-to-end suite runs its scenarios through this driver as well as through `TestExecutor`.
It covers the overlap: sync the app, send events, and wait for a run's status and output via
the Dev Server's REST API (`GET /v1/events/{id}/runs`).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx

SKIP_REASON = (
    "INNGEST_DEV_SERVER_URL is not set: the Inngest Dev Server cannot be installed on this "
    "machine (its npm package downloads a binary at install time, and there is no internet)"
)


def dev_server_url() -> tuple[str | None, str | None]:
    """(url, None) when a Dev Server answers at INNGEST_DEV_SERVER_URL, else (None, reason)."""
    url = os.environ.get("INNGEST_DEV_SERVER_URL")
    if not url:
        return None, SKIP_REASON
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError as exc:
        return None, f"no Dev Server answers at INNGEST_DEV_SERVER_URL={url}: {exc}"
    return url.rstrip("/"), None


class DevServerDriver:
    """Sync, send and wait, against a real Dev Server."""

    def __init__(self, url: str, http: httpx.AsyncClient) -> None:
        self.url = url
        self._http = http

    async def sync(self, app_url: str) -> httpx.Response:
        """Ask the app to register with the Dev Server."""
        return await self._http.put(app_url)

    async def send(self, event: dict[str, Any]) -> str:
        """Send one event; return its id."""
        response = await self._http.post(f"{self.url}/e/dev-key", json=event)
        response.raise_for_status()
        return str(response.json()["ids"][0])

    async def wait_for_run(self, event_id: str, *, within_s: float = 30) -> dict[str, Any]:
        """The first run of `event_id` once it has ended (Completed, Failed or Cancelled)."""
        deadline = asyncio.get_running_loop().time() + within_s
        while asyncio.get_running_loop().time() < deadline:
            response = await self._http.get(f"{self.url}/v1/events/{event_id}/runs")
            runs = response.json().get("data") or [] if response.status_code == 200 else []
            for run in runs:
                if run.get("status") in ("Completed", "Failed", "Cancelled"):
                    return dict(run)
            await asyncio.sleep(0.5)
        raise TimeoutError(f"no finished run for event {event_id} within {within_s}s")
