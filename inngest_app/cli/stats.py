"""`python -m inngest_app stats [--since 7d] [--function ID]`: the stats API as a table."""

from __future__ import annotations

import argparse
import datetime as dt
import re
from typing import Any

from inngest_app.cli.support import command_settings, open_services
from inngest_app.monitoring.stats import StatsQuery, run_stats
from inngest_app.repos.executions import ExecutionsRepo
from inngest_app.services import Services
from inngest_app.settings import Settings

_SINCE = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> dt.timedelta:
    """`30m`, `12h`, `7d`, `2w` → a timedelta."""
    match = _SINCE.match(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"--since: expected e.g. 7d, 12h, 30m, got {text!r}")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def render(body: dict[str, Any]) -> str:
    """The numbers as aligned plain-text tables."""
    lines = [
        f"runs {body['totalExecutions']}  ok {body['successfulExecutions']}  "
        f"failed {body['failedExecutions']}  steps {body['totalSteps']}  "
        f"billed steps {body['billedSteps']}  "
        f"avg {body['averageDurationMs']} ms  cost ${body['estimatedCostUsd']}",
        "",
        f"{'function':<40} {'runs':>7} {'steps':>8} {'avg ms':>9} {'p95 ms':>9}",
    ]
    for row in body["byFunction"]:
        lines.append(
            f"{row['functionId']:<40} {row['count']:>7} {row['steps']:>8} "
            f"{row['avgDuration']:>9} {row['p95DurationMs'] or 0:>9}"
        )
    lines += ["", f"{'trigger':<12} {'runs':>7}"]
    lines += [f"{r['triggerType']:<12} {r['count']:>7}" for r in body["byTriggerType"]]
    quota = body["quota"]
    lines += [
        "",
        f"this month: {quota['stepsThisMonth']} steps, forecast "
        f"{quota['forecastStepsThisMonth']}, quota {quota['monthlyStepQuota'] or '-'}",
    ]
    return "\n".join(lines)


async def stats(services: Services, *, since: dt.timedelta, function_id: str | None) -> str:
    """The rendered stats for the window ending now (all users: an operator's view)."""
    now = dt.datetime.now(dt.UTC)
    query = StatsQuery(start=now - since, end=now, function_id=function_id, user_id=None)
    body = await run_stats(
        ExecutionsRepo(services.transport), services.settings, query, admin=True, now=now
    )
    return render(body)


async def _run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    # Stats read the database only: no Inngest keys needed, whatever the mode.
    async with open_services(settings or command_settings()) as services:
        print(await stats(services, since=args.since, function_id=args.function))
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `stats` command."""
    parser = subparsers.add_parser("stats", help="runs, steps, durations and cost")
    parser.add_argument("--since", type=parse_since, default=dt.timedelta(days=7))
    parser.add_argument("--function", default=None, help="one function id")
    parser.set_defaults(handler=_run)
