"""The stats API's query: parsing its parameters, and running it for a caller."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from inngest_app.auth import AuthError, Caller
from inngest_app.repos.executions import ExecutionsRepo
from inngest_app.repos.monitoring_runs import RunsRepo
from inngest_app.settings import Settings

PARAMETERS = frozenset({"startDate", "endDate", "functionId", "userId"})
DEFAULT_WINDOW = dt.timedelta(days=30)
MAX_WINDOW = dt.timedelta(days=366)  # a year of rows (raw or rolled up) is the most one call reads
HOURLY_MAX = dt.timedelta(days=2)  # ranges this short or shorter also come in hourly buckets
PREVIOUS_FIGURES = ("totalExecutions", "failedExecutions", "billedSteps", "estimatedCostUsd")


class StatsParameterError(ValueError):
    """A bad query parameter; the message starts with its name."""


@dataclass(frozen=True)
class StatsQuery:
    """A validated window `[start, end)` and filters."""

    start: dt.datetime
    end: dt.datetime
    function_id: str | None
    user_id: str | None


def _parse_time(name: str, value: str, *, end: bool) -> dt.datetime:
    try:
        if "T" not in value and len(value) == 10:
            day = dt.date.fromisoformat(value)
            moment = dt.datetime.combine(day, dt.time(), dt.UTC)
            return moment + dt.timedelta(days=1) if end else moment  # endDate: its whole day
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return moment + dt.timedelta(microseconds=1) if end else moment
    except ValueError:
        raise StatsParameterError(f"{name}: not an ISO date or datetime: {value!r}") from None
    except OverflowError:  # e.g. endDate=9999-12-31: its end is past the last representable day
        raise StatsParameterError(f"{name}: out of range: {value!r}") from None


def parse_stats_query(params: Mapping[str, str], *, now: dt.datetime) -> StatsQuery:
    """Validate the query string; unknown parameters and bad dates name themselves."""
    unknown = sorted(set(params) - PARAMETERS)
    if unknown:
        raise StatsParameterError(f"{unknown[0]}: unknown parameter")
    end = _parse_time("endDate", params["endDate"], end=True) if "endDate" in params else now
    if "startDate" in params:
        start = _parse_time("startDate", params["startDate"], end=False)
    elif end - dt.datetime.min.replace(tzinfo=dt.UTC) > DEFAULT_WINDOW:
        start = end - DEFAULT_WINDOW
    else:
        raise StatsParameterError(f"endDate: out of range: {params['endDate']!r}")
    if start >= end:
        raise StatsParameterError("startDate: must be before endDate")
    if end - start > MAX_WINDOW:
        raise StatsParameterError(f"startDate: the window may span at most {MAX_WINDOW.days} days")
    function_id = params.get("functionId") or None
    user_id = params.get("userId") or None
    return StatsQuery(start=start, end=end, function_id=function_id, user_id=user_id)


def scope_for(caller: Caller, query: StatsQuery) -> StatsQuery:
    """A user sees only their own rows (asking for another user is 403); an admin sees all."""
    if caller.is_admin:
        return query
    if query.user_id is not None and query.user_id != caller.user_id:
        raise AuthError(403, "you may only read your own stats")
    return StatsQuery(query.start, query.end, query.function_id, caller.user_id)


def function_ids(function_id: str | None, app_id: str) -> list[str] | None:
    """The ids a function filter matches: as given, and with the app's prefix when it is bare
    (the seed apps named functions `execute-query`; Inngest reports `inngest-app-execute-query`)."""
    if function_id is None:
        return None
    prefixed = f"{app_id}-{function_id}"
    return [function_id] if function_id.startswith(f"{app_id}-") else [function_id, prefixed]


async def run_stats(
    repo: ExecutionsRepo,
    settings: Settings,
    query: StatsQuery,
    *,
    admin: bool,
    now: dt.datetime,
    runs: RunsRepo | None = None,
) -> dict[str, Any]:
    """The stats body (the seed's shape plus byDay, byUser for admins, cost, failures, quota).

    `totalSteps` and each `steps` count step.run steps (the seed's meaning); `billedSteps`
    beside them is what Inngest bills, and the cost is computed from it. Failed runs per
    function, and for admins the window's recorded alerts, come with it. With `runs`: the
    range's hourly buckets (`byHour`, ranges of two days or less) and the same figures for the
    period of the same length just before (`previous`).
    """
    ids = function_ids(query.function_id, settings.inngest_app_id)
    body = await _stats(repo, settings, query, ids, admin=admin, now=now)
    if runs is None:
        return body
    span = query.end - query.start
    if span <= HOURLY_MAX:
        body["byHour"] = await runs.hourly(
            start=query.start,
            end=query.end,
            function_ids=ids,
            user_id=query.user_id,
            bill_all_steps=settings.inngest_bill_all_steps,
        )
    body["previous"] = None
    try:
        before = StatsQuery(query.start - span, query.start, query.function_id, query.user_id)
    except OverflowError:  # no period before the first representable day
        return body
    earlier = await _stats(repo, settings, before, ids, admin=False, now=now)
    body["previous"] = {  # [start - span, start): the same length, just before
        **{key: earlier[key] for key in PREVIOUS_FIGURES},
        "byFunction": {
            f["functionId"]: {key: f[key] for key in ("count", "billedSteps", "failed")}
            for f in earlier["byFunction"]
        },
    }
    return body


def function_cost(
    billed_steps: int, runs: int, *, cost_per_step: Decimal, cost_per_run: Decimal
) -> float:
    """A function's estimated cost: the total's formula (billed steps × cost per step + runs ×
    cost per run), rounded to 6 decimals as the total is."""
    cost = billed_steps * cost_per_step + runs * cost_per_run
    # Postgres' round(numeric, 6): ties away from zero (Python's round() goes to even)
    return float(cost.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP))


async def _stats(
    repo: ExecutionsRepo,
    settings: Settings,
    query: StatsQuery,
    ids: list[str] | None,
    *,
    admin: bool,
    now: dt.datetime,
) -> dict[str, Any]:
    body = await repo.stats(
        start=query.start,
        end=query.end,
        function_ids=ids,
        user_id=query.user_id,
        cost_per_step=settings.inngest_cost_per_step_usd,
        cost_per_run=settings.inngest_cost_per_run_usd,
        bill_all_steps=settings.inngest_bill_all_steps,
        include_users=admin,
        quota=settings.inngest_monthly_step_quota,
        now=now,
    )
    if not admin:
        body.pop("byUser", None)
    extras = await repo.dashboard_extras(
        start=query.start, end=query.end, user_id=query.user_id, include_alerts=admin
    )
    failed = extras["failedByFunction"]
    for row in body["byFunction"]:
        row["failed"] = int(failed.get(row["functionId"], 0))
        row["estimatedCostUsd"] = function_cost(
            int(row["billedSteps"]),
            int(row["count"]),
            cost_per_step=settings.inngest_cost_per_step_usd,
            cost_per_run=settings.inngest_cost_per_run_usd,
        )
    if admin:
        body["alerts"] = extras["alerts"]
    return body
