"""What the executor knows about a run: its state, its memoized steps and its history."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

RESERVED_PREFIX = "inngest/"
FUNCTION_FAILED = "inngest/function.failed"
FUNCTION_FINISHED = "inngest/function.finished"
FUNCTION_CANCELLED = "inngest/function.cancelled"
FUNCTION_INVOKED = "inngest/function.invoked"
SCHEDULED_TIMER = "inngest/scheduled.timer"
# Runs started by these events emit no system events of their own: no feedback loops.
QUIET_TRIGGERS = frozenset({FUNCTION_FAILED, FUNCTION_FINISHED, FUNCTION_CANCELLED})
DEFAULT_RETRIES = 4  # the platform's default when a function sets none
FUNCTION_UNIT = "<function>"  # the unit of work that is the function body, not a step

CANCELLED_ERROR = {"error": "function cancelled", "message": "function cancelled", "name": "Error"}
INVOKE_TIMEOUT_ERROR = {
    "name": "InngestInvokeTimeoutError",
    "message": "Timed out waiting for invoked function to complete",
}

RunStatus = Literal[
    "queued", "running", "sleeping", "waiting", "completed", "failed", "cancelled", "skipped"
]
# "skipped": flow control (rate limit, idempotency, singleton) started nothing for the event.
TERMINAL: frozenset[str] = frozenset({"completed", "failed", "cancelled", "skipped"})
FAILED_OPS = frozenset({"StepError", "StepFailed", "FunctionError", "Refused", "LimitExceeded"})
PendingKind = Literal["step", "sleep", "wait", "invoke"]
# Why flow control delayed, skipped or cancelled a run (`Run.reasons`).
FlowReason = Literal[
    "throttled",
    "rate_limited",
    "debounced",
    "batched",
    "timed_out",
    "singleton",
    "idempotency",
    "concurrency_limited",
]

_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@dataclass
class StepRecord:
    """One thing the app reported for a run (an opcode), or one failed call."""

    step_id: str  # the hashed id ("" for the function body)
    name: str | None  # the user-facing id, when the SDK gives one
    # an opcode, or "FunctionError" (HTTP 500) / "Refused" (any other answer) / "LimitExceeded"
    op: str
    attempt: int
    error: dict[str, Any] | None = None
    # the call that reported it: sent and answered (executor clock, unix seconds)
    sent_at: float = 0.0
    answered_at: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether this record reports progress rather than a failure."""
        return self.op not in FAILED_OPS


@dataclass
class Reason:
    """One thing flow control did to a run, and when (executor clock, unix seconds)."""

    reason: FlowReason
    at: float
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        """The reason as the REST API shows it."""
        return {"reason": self.reason, "at": self.at, "detail": self.detail}


@dataclass
class Pending:
    """Something a run waits on before it is called again."""

    step_id: str
    name: str | None
    kind: PendingKind  # step: a planned step to call; sleep/wait/invoke: resolved by the executor
    due: float | None  # step: when to call it; sleep: when it ends; wait/invoke: the timeout
    attempt: int = 0  # step: the failed attempts of this step so far
    event: str | None = None  # wait: the event name
    condition: str | None = None  # wait: the `if` expression
    child: str | None = None  # invoke: the run id of the invoked function


@dataclass
class Run:
    """A function run and everything that happened to it."""

    run_id: str
    function_id: str
    event: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    status: RunStatus = "queued"
    steps: dict[str, Any] = field(default_factory=dict)  # hashed step id -> memoized value
    stack: list[str] = field(default_factory=list)
    step_log: list[StepRecord] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)  # unit -> failed calls retried
    retries: int = 0  # failed calls that were retried, over the whole run
    calls: int = 0  # HTTP calls made to the app
    output: Any = None
    error: dict[str, Any] | None = None
    attempt: int = 0  # the function-body unit's current attempt
    due: float | None = None  # when the function body is next called (None: not scheduled)
    pending: dict[str, Pending] = field(default_factory=dict)
    disable_immediate: bool = False
    parent: tuple[str, str] | None = None  # (run id, step id) of the invoking run
    started_at: float = 0.0  # when the run was created (queued)
    ended_at: float | None = None
    reasons: list[Reason] = field(default_factory=list)  # flow control's doings, in order
    first_call_at: float | None = None  # when the app was first called for this run
    in_flight: bool = False  # a call of this run is under way
    order: int = 0  # creation sequence: ties in the queue go to the older run
    priority_s: float = 0.0  # `priority.run`: how far ahead of its due time it is queued
    buckets: tuple[tuple[str, ...], ...] = ()  # the concurrency pools its calls draw from
    start_deadline: float | None = None  # `timeouts.start`: cancelled if not called by then
    finish_deadline: float | None = None  # `timeouts.finish`: cancelled if not done by then
    singleton_key: str | None = None  # `singleton`: its key while it is unfinished
    settled_at: dict[str, float] = field(default_factory=dict)  # step id -> when memoized

    @property
    def done(self) -> bool:
        """Whether the run reached a terminal state."""
        return self.status in TERMINAL

    @property
    def next_due(self) -> float | None:
        """The earliest time something of this run is due, if anything is scheduled."""
        dues = [p.due for p in self.pending.values() if p.due is not None]
        dues += [t for t in (self.due, self.start_deadline, self.finish_deadline) if t is not None]
        return min(dues, default=None)

    def note(self, reason: FlowReason, at: float, detail: str = "") -> None:
        """Record what flow control did (a repeated reason with the same detail once)."""
        if not self.reasons or (self.reasons[-1].reason, self.reasons[-1].detail) != (
            reason,
            detail,
        ):
            self.reasons.append(Reason(reason, at, detail))

    def step_names(self, op: str | None = "StepRun") -> list[str]:
        """User-facing ids of the steps reported with `op` (every op when None), in order."""
        return [r.name or r.step_id for r in self.step_log if op is None or r.op == op]


def parse_duration(text: str | int | float | None) -> float | None:
    """Seconds in an Inngest duration (`"30s"`, `"1h30m"`), or milliseconds given as a number."""
    if text is None:
        return None
    if isinstance(text, int | float):
        return float(text) / 1000
    parts = _DURATION.findall(text)
    if not parts or "".join(n + unit for n, unit in parts) != text.strip():
        raise ValueError(f"not a duration: {text!r}")
    return float(sum(int(n) * _UNIT_S[unit] for n, unit in parts))


def parse_time(text: str) -> float:
    """Unix seconds of an ISO-8601 time (a trailing Z allowed; naive means UTC)."""
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def new_ulid(at_ms: int | None = None, entropy: int | None = None) -> str:
    """A ULID: 48 bits of milliseconds and 80 random bits, in Crockford base 32."""
    ms = int(time.time() * 1000) if at_ms is None else at_ms
    rand = secrets.randbits(80) if entropy is None else entropy % (1 << 80)
    value = ((ms & ((1 << 48) - 1)) << 80) | rand
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def memo_error(error: Mapping[str, Any] | None) -> dict[str, Any]:
    """An error in the shape the SDK's memo parser requires (string name and message)."""
    error = error or {}
    memo = {k: v for k, v in error.items() if k != "stack" or isinstance(v, str)}
    memo["name"] = str(error.get("name") or "Error")
    memo["message"] = str(error.get("message") or "")
    return memo
