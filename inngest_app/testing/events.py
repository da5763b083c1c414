"""Events as the event API takes them: validation, the fields it fills in, derived ids."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from inngest_app.testing.runs import RESERVED_PREFIX, new_ulid

DEDUP_WINDOW_S = 24 * 3600  # an id seen within this window is accepted but starts nothing


def check_event(event: Any, *, internal: bool = False) -> None:
    """`ValueError` unless the event API accepts `event` (`internal`: sent by the platform)."""
    if not isinstance(event, Mapping):
        raise ValueError("an event must be a JSON object")
    name = event.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError("an event needs a non-empty name")
    if name.startswith(RESERVED_PREFIX) and not internal:
        raise ValueError(f"event names starting with {RESERVED_PREFIX!r} are reserved")
    if event.get("data") is not None and not isinstance(event["data"], Mapping):
        raise ValueError(f"{name}: data must be a JSON object")


def complete_event(
    event: Mapping[str, Any], *, now_ms: int, seed: str | None = None, index: int = 0
) -> dict[str, Any]:
    """A copy of `event` with `data`, `ts` and `id` filled in when missing.

    `seed` is the SDK's `X-Inngest-Event-Id-Seed` header (`<ms>,<base64 entropy>`): an event
    without an id gets one derived from it and its `index` in the batch, so a send the SDK
    retries gets the same ids and is deduplicated."""
    completed = dict(event)
    completed["data"] = dict(event.get("data") or {})
    completed["ts"] = event.get("ts") or now_ms
    completed["id"] = event.get("id") or seeded_id(seed, index) or new_ulid()
    return completed


def seeded_id(seed: str | None, index: int) -> str | None:
    """The ULID derived from an id seed header and an index (None if the seed is unreadable)."""
    if not seed:
        return None
    try:
        millis, entropy = seed.split(",", 1)
        value = int.from_bytes(base64.b64decode(entropy, validate=True), "big")
        return new_ulid(int(millis), value + index)
    except (ValueError, binascii.Error):
        return None
