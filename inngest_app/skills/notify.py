"""Telling a user their skill run finished: Telegram's Bot API, or a webhook URL they gave us.

Each sender answers `Delivery` for a permanent outcome (sent, or refused for good) and raises
`NotifyError(retryable=True)` for a transient one, so the step of that one channel is retried
and the other channels go on. Telegram's URL holds the bot token: no error message, log line or
step output here ever carries the URL.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx

TELEGRAM_API = "https://api.telegram.org"
MAX_TEXT = 3500  # Telegram caps a message at 4096 characters
WEBHOOK_MAX_BYTES = 64 * 1024
WEBHOOK_DEADLINE_S = 15.0


class NotifyError(Exception):
    """A notification could not be delivered now; the channel's step retries it."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclasses.dataclass(frozen=True)
class Delivery:
    """The final outcome of one channel (a step output)."""

    ok: bool
    detail: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable."""
        return dataclasses.asdict(self)


def completion_text(*, skill: str, title: str, preview: str, output_id: str) -> str:
    """The message a user gets when a run completes."""
    text = f"Your {skill} is ready: {title}\n\n{preview[:600]}\n\nOutput id: {output_id}"
    return text[:MAX_TEXT]


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class TelegramClient:
    """`sendMessage` of the Telegram Bot API, on an injected HTTP client."""

    def __init__(self, http: httpx.AsyncClient, token: str, *, api_url: str = TELEGRAM_API) -> None:
        self._http = http
        self._token = token
        self._api_url = api_url.rstrip("/")

    async def send_message(self, chat_id: str, text: str) -> Delivery:
        """Send `text` to `chat_id`."""
        url = f"{self._api_url}/bot{self._token}/sendMessage"
        try:
            response = await self._http.post(
                url, json={"chat_id": chat_id, "text": text, "disable_web_page_preview": True}
            )
        except httpx.TransportError as exc:  # its message may hold the URL: keep only the kind
            raise NotifyError(f"Telegram unreachable: {type(exc).__name__}") from None
        body = _json(response)
        if response.status_code == 200 and body.get("ok") is True:
            message_id = (body.get("result") or {}).get("message_id")
            return Delivery(ok=True, detail=f"telegram message {message_id}")
        description = str(body.get("description") or f"HTTP {response.status_code}")[:300]
        if response.status_code == 429:
            wait = (body.get("parameters") or {}).get("retry_after")
            raise NotifyError(
                f"Telegram rate limit: {description}",
                retry_after_s=float(wait) if isinstance(wait, int | float) else None,
            )
        if response.status_code >= 500:
            raise NotifyError(f"Telegram answered {response.status_code}: {description}")
        return Delivery(ok=False, detail=f"Telegram refused: {description}")


def webhook_payload(*, text: str, run_id: str, output_id: str, skill: str) -> dict[str, Any]:
    """Slack-compatible (`text`) with the ids a receiver may want."""
    return {"text": text, "runId": run_id, "outputId": output_id, "skillName": skill}


def webhook_outcome(status: int) -> Delivery:
    """2xx sent; 408/429/5xx retried (raises); any other answer refused for good."""
    if 200 <= status < 300:
        return Delivery(ok=True, detail=f"webhook answered {status}")
    if status in (408, 429) or status >= 500:
        raise NotifyError(f"webhook answered {status}")
    return Delivery(ok=False, detail=f"webhook refused: HTTP {status}")
