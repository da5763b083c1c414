"""Flow control, read from a function's registration and applied as Inngest's queue applies it.

Per Inngest's documentation of each option (details the docs leave open follow the Dev Server,
as noted where they arise):

- `concurrency` (`limit`, `key`, `scope` fn|env|account): how many calls of the function (or
  of one key) execute at once. Only a call in flight holds a slot: a sleeping, waiting or
  queued run holds none. An `env`/`account` scope shares the slots between every function
  whose key evaluates to the same value.
- `throttle` (`limit`, `period`, `burst`, `key`): run starts beyond the rate are queued, never
  dropped, FIFO. The rate is the Dev Server's GCRA: one start per `period / limit`, with
  `burst` extra starts allowed at once.
- `rateLimit` (`limit`, `period`, `key`): at most `limit` runs start per `period`; the period
  begins with the first event admitted, and events beyond the limit start nothing (skipped).
- `debounce` (`period`, `key`, `timeout`): one run, with the last event, after `period`
  without a new one, or at `timeout` after the first.
- `batchEvents` (`maxSize`, `timeout`, `key`, `if`): one run for up to `maxSize` events
  (`ctx.events`), started when full or `timeout` after the first; events that fail `if` run
  alone at once.
- `idempotency`: one run per key value in 24 hours; later events are skipped.
- `singleton` (`key`, `mode` skip|cancel): while a run (per key) is unfinished, a new one is
  skipped, or the unfinished one is cancelled for it.
- `priority.run`: seconds (-600..600) by which a run's start jumps the queue.
- `timeouts` (`start`, `finish`): a run not started within `start` of being queued, or not
  finished within `finish` of its first call, is cancelled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from inngest_app.testing.expressions import Expression
from inngest_app.testing.runs import parse_duration

IDEMPOTENCY_PERIOD_S = 24 * 3600
PRIORITY_MAX_S = 600  # the platform clamps `priority.run` to ±600 s

Compile = Callable[[str], Expression]
Scope = Literal["fn", "env", "account"]
_SCOPES: dict[Any, Scope] = {"fn": "fn", "env": "env", "account": "account"}
Bucket = tuple[str, ...]  # a concurrency slot pool: ("fn", fn_id, key) or (scope, key)


@dataclass(frozen=True)
class ConcurrencyLimit:
    """One `concurrency` entry."""

    limit: int
    key: Expression | None
    scope: Scope

    def bucket(self, fn_id: str, event: Mapping[str, Any]) -> Bucket:
        """The slot pool a run of `fn_id` for `event` draws from."""
        key = "" if self.key is None else self.key.key({"event": event})
        return ("fn", fn_id, key) if self.scope == "fn" else (self.scope, key)


@dataclass(frozen=True)
class Rate:
    """`throttle` or `rateLimit`: `limit` per `period_s` (and `burst` for a throttle)."""

    limit: int
    period_s: float
    burst: int
    key: Expression | None


@dataclass(frozen=True)
class Debounce:
    """`debounce`."""

    period_s: float
    timeout_s: float | None
    key: Expression | None


@dataclass(frozen=True)
class Batch:
    """`batchEvents`."""

    max_size: int
    timeout_s: float
    key: Expression | None
    condition: Expression | None


@dataclass(frozen=True)
class Singleton:
    """`singleton`."""

    mode: Literal["skip", "cancel"]
    key: Expression | None


@dataclass(frozen=True)
class Flow:
    """Every flow-control option of one function (all off by default)."""

    concurrency: tuple[ConcurrencyLimit, ...] = ()
    throttle: Rate | None = None
    rate_limit: Rate | None = None
    debounce: Debounce | None = None
    batch: Batch | None = None
    idempotency: Expression | None = None
    singleton: Singleton | None = None
    priority: Expression | None = None
    start_timeout_s: float | None = None
    finish_timeout_s: float | None = None


def key_of(expression: Expression | None, event: Mapping[str, Any]) -> str:
    """The key `expression` gives `event` ("" without an expression)."""
    return "" if expression is None else expression.key({"event": event})


def priority_of(flow: Flow, event: Mapping[str, Any]) -> float:
    """`priority.run` for `event`, in seconds, clamped; 0 when unset or not a number."""
    if flow.priority is None:
        return 0.0
    try:
        value = flow.priority.value({"event": event})
    except ValueError:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(max(-PRIORITY_MAX_S, min(PRIORITY_MAX_S, value)))


def parse_flow(fn_id: str, config: Mapping[str, Any], compile_key: Compile) -> Flow:
    """The flow control of one function config; `ValueError` naming the function and the
    option when an option is malformed or its expression does not compile."""

    def fail(option: str, why: str | Exception) -> ValueError:
        return ValueError(f"{fn_id}: {option}: {why}")

    def expression(option: str, source: Any) -> Expression | None:
        if source in (None, ""):
            return None
        if not isinstance(source, str):
            raise fail(option, "must be an expression string")
        try:
            return compile_key(source)
        except ValueError as exc:
            raise fail(option, exc) from exc

    def duration(option: str, value: Any) -> float | None:
        try:
            return parse_duration(value)
        except (ValueError, TypeError) as exc:
            raise fail(option, exc) from exc

    def required(option: str, value: Any) -> float:
        seconds = duration(option, value)
        if seconds is None:
            raise fail(option, "is required")
        return seconds

    def section(name: str) -> Mapping[str, Any] | None:
        value = config.get(name)
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise fail(name, "must be an object")
        return value

    def count(option: str, value: Any, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise fail(option, f"must be an integer >= {minimum}")
        return value

    concurrency: list[ConcurrencyLimit] = []
    raw = config.get("concurrency")
    entries = [] if raw is None else raw if isinstance(raw, list) else [raw]
    for i, entry in enumerate(entries):
        option = f"concurrency[{i}]"
        if isinstance(entry, int) and not isinstance(entry, bool):
            entry = {"limit": entry}
        if not isinstance(entry, Mapping):
            raise fail(option, "must be an object or a number")
        limit = count(f"{option}.limit", entry.get("limit"), minimum=0)
        scope = _SCOPES.get(entry.get("scope") or "fn")
        if scope is None:
            raise fail(f"{option}.scope", f"unknown scope {entry.get('scope')!r}")
        if limit:  # 0 is "no limit"
            concurrency.append(
                ConcurrencyLimit(limit, expression(f"{option}.key", entry.get("key")), scope)
            )

    def rate(name: str) -> Rate | None:
        body = section(name)
        if body is None:
            return None
        period = required(f"{name}.period", body.get("period"))
        burst = body.get("burst") or 0
        return Rate(
            count(f"{name}.limit", body.get("limit")),
            period,
            count(f"{name}.burst", burst, minimum=0),
            expression(f"{name}.key", body.get("key")),
        )

    debounce = None
    if (body := section("debounce")) is not None:
        period = required("debounce.period", body.get("period"))
        debounce = Debounce(
            period,
            duration("debounce.timeout", body.get("timeout")),
            expression("debounce.key", body.get("key")),
        )

    batch = None
    if (body := section("batchEvents")) is not None:
        timeout = required("batchEvents.timeout", body.get("timeout"))
        batch = Batch(
            count("batchEvents.maxSize", body.get("maxSize")),
            timeout,
            expression("batchEvents.key", body.get("key")),
            expression("batchEvents.if", body.get("if")),
        )

    singleton = None
    if (body := section("singleton")) is not None:
        mode = body.get("mode")
        if mode not in ("skip", "cancel"):
            raise fail("singleton.mode", f"must be 'skip' or 'cancel', not {mode!r}")
        singleton = Singleton(mode, expression("singleton.key", body.get("key")))

    priority = None
    if (body := section("priority")) is not None:
        priority = expression("priority.run", body.get("run"))

    timeouts = section("timeouts") or {}
    return Flow(
        concurrency=tuple(concurrency),
        throttle=rate("throttle"),
        rate_limit=rate("rateLimit"),
        debounce=debounce,
        batch=batch,
        idempotency=expression("idempotency", config.get("idempotency")),
        singleton=singleton,
        priority=priority,
        start_timeout_s=duration("timeouts.start", timeouts.get("start")),
        finish_timeout_s=duration("timeouts.finish", timeouts.get("finish")),
    )


class Gcra:
    """The throttle's generic cell rate algorithm, one theoretical arrival time per key.

    As the Dev Server computes it: emission interval `period / limit`, tolerance
    `emission * (burst + 1)`; a start is admitted when `max(tat, now) + emission - tolerance`
    is not in the future, and then moves the key's `tat` on by one emission."""

    def __init__(self) -> None:
        self._tat: dict[tuple[str, str], float] = {}

    def admit(self, key: tuple[str, str], rate: Rate, now: float) -> float | None:
        """None if a start is admitted now (and counted); else when one would be."""
        emission = rate.period_s / rate.limit
        tolerance = emission * (rate.burst + 1)
        new_tat = max(self._tat.get(key, now), now) + emission
        allow_at = new_tat - tolerance
        if allow_at > now + 1e-9:
            return allow_at
        self._tat[key] = new_tat
        return None


class Windows:
    """`rateLimit` windows: a count per key in a period that begins with its first event."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def admit(self, key: tuple[str, str], rate: Rate, now: float) -> bool:
        """Whether a run may start now (and count it)."""
        start, used = self._windows.get(key, (now, 0))
        if now - start >= rate.period_s:
            start, used = now, 0
        if used >= rate.limit:
            return False
        self._windows[key] = (start, used + 1)
        return True
