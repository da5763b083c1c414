"""Pure derivations from an event: who triggered a run, and how."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TRIGGER_TYPES = frozenset({"manual", "scheduled", "webhook", "polling", "test", "event"})
CRON_EVENT = "inngest/scheduled.timer"
_ID_KEYS = {
    "user_id": ("userId", "user_id"),
    "workflow_id": ("workflowId", "workflow_id"),
    "execution_id": ("executionId", "execution_id", "runId", "run_id"),
}


def trigger_type(event_name: str | None, data: Any) -> str:
    """`data.triggerType` when valid; cron → scheduled; `stripe/*` → webhook; else event."""
    if isinstance(data, Mapping):
        explicit = data.get("triggerType")
        if isinstance(explicit, str) and explicit in TRIGGER_TYPES:
            return explicit
    if event_name == CRON_EVENT:
        return "scheduled"
    if event_name and event_name.startswith("stripe/"):
        return "webhook"
    return "event"


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int):
        text = str(value).strip()
        return text[:200] or None
    return None


def ids(data: Any) -> dict[str, str | None]:
    """user_id, workflow_id and execution_id from event data; unknown shapes give None."""
    found: dict[str, str | None] = dict.fromkeys(_ID_KEYS)
    if not isinstance(data, Mapping):
        return found
    for field, keys in _ID_KEYS.items():
        for key in keys:
            value = _scalar(data.get(key))
            if value is not None:
                found[field] = value
                break
    return found


def metadata(event_name: str | None, data: Any) -> dict[str, Any]:
    """Small, useful context kept with the row (the cron expression of a scheduled run)."""
    if event_name == CRON_EVENT and isinstance(data, Mapping) and isinstance(data.get("cron"), str):
        return {"cron": data["cron"]}
    return {}
