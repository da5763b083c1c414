"""Poison webhook deliveries: recorded once, counted on every redelivery."""

from __future__ import annotations

from pydantic import BaseModel

from inngest_app.store import Transport


class Rejection(BaseModel):
    """A recorded rejection; `deliveries` counts how often the same body came."""

    source: str
    key: str
    code: str
    deliveries: int


class WebhooksRepo:
    """The `webhook_rejections` table, through its SQL function."""

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    async def reject(
        self, *, source: str, key: str, event_id: str | None, code: str, reason: str, body: str
    ) -> Rejection:
        """Record a poison delivery (or count a redelivery of the same body)."""
        row = await self._transport.call(
            "webhook_reject",
            {
                "p_source": source,
                "p_key": key,
                "p_event_id": event_id,
                "p_code": code,
                "p_reason": reason,
                "p_body": body,
            },
        )
        return Rejection.model_validate(row)
