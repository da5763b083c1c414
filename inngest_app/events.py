"""Typed event payloads: the one way a function reads `ctx.event.data`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import inngest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


class EventPayload(BaseModel):
    """Base for event data models: unknown keys are kept, accepted by alias or by name."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)


def describe_validation_error(exc: ValidationError) -> str:
    """`field.path: message` for each problem, joined: short enough for a run's error."""
    parts = []
    for err in exc.errors():
        location = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{location}: {err['msg']}")
    return "; ".join(parts)


def parse_event(model: type[ModelT], data: Mapping[str, Any] | None, *, event: str) -> ModelT:
    """Validate event data, or end the run with a `NonRetriableError` naming each bad field.

    Retrying cannot fix a malformed payload, so the platform must not retry it.
    """
    try:
        return model.model_validate(dict(data or {}))
    except ValidationError as exc:
        raise inngest.NonRetriableError(
            f"invalid {event} payload: {describe_validation_error(exc)}"
        ) from None


class RunError(EventPayload):
    """The `error` of a failed or cancelled run, as Inngest reports it."""

    name: str | None = None
    message: str | None = None
    stack: str | None = None


class TerminalEvent(EventPayload):
    """Data of the platform's `inngest/function.failed` and `inngest/function.cancelled`."""

    function_id: str = Field(..., min_length=1)
    run_id: str = Field(..., min_length=1)
    error: RunError | None = None
    event: dict[str, Any] = Field(default_factory=dict)
