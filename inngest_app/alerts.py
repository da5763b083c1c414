"""Posting an alert to the configured webhook (Slack-style `{"text": ...}` JSON)."""

from __future__ import annotations

from typing import Any

import httpx
import inngest


async def post_alert(http: httpx.AsyncClient, url: str, payload: dict[str, Any]) -> int:
    """POST `payload`; a 5xx or network fault raises (the step retries), a 4xx ends the run."""
    response = await http.post(url, json=payload)
    if response.status_code >= 500:
        raise RuntimeError(f"alert webhook answered {response.status_code}")
    if response.status_code >= 400:
        raise inngest.NonRetriableError(f"alert webhook refused the alert: {response.status_code}")
    return response.status_code
