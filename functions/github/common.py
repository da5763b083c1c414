"""What every GitHub capture handler shares: its dependencies, flow control, and the one place
GitHub's and the store's errors become Inngest's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import inngest

from inngest_app.github.client import GithubClient, NotFound, RateLimited, Refused
from inngest_app.github.events import CANCEL, CANCEL_IF, REPOSITORY_KEY, RepositoryRef
from inngest_app.repos.github import GithubRepo
from inngest_app.store import StoreError
from inngest_app.workspaces.events import RECOMPUTE

T = TypeVar("T")

RETRIES = 3
SEND_BATCH = 500  # events per step.send_event
# GitHub's secondary limits: at most 100 concurrent requests, ~900 REST / 2,000 GraphQL points a
# minute. Every GitHub function draws from one account-wide pool and starts at most this often.
GLOBAL_CONCURRENCY = inngest.Concurrency(limit=10, key='"github-api"', scope="account")
THROTTLE_PER_MINUTE = 60
THROTTLE = inngest.Throttle(limit=THROTTLE_PER_MINUTE, period=dt.timedelta(minutes=1), burst=10)


@dataclass(frozen=True)
class Deps:
    """A handler's dependencies: the capture storage and the GitHub client (built on use, so
    a missing token fails the run that needs it, not the app)."""

    repo: Callable[[], GithubRepo]
    github: Callable[[], GithubClient]


def now() -> dt.datetime:
    """The wall clock (skip windows compare it with times the database wrote)."""
    return dt.datetime.now(dt.UTC)


def event_time(ctx: inngest.Context) -> dt.datetime:
    """When the triggering event happened (its `ts`), else now: stable across replays."""
    ts = ctx.event.ts
    return dt.datetime.fromtimestamp(ts / 1000, dt.UTC) if ts else now()


def iso(value: dt.datetime | None) -> str | None:
    """An ISO time, or None."""
    return value.isoformat() if value else None


def parse_time(value: str | None) -> dt.datetime | None:
    """An ISO time back, or None."""
    return dt.datetime.fromisoformat(value) if value else None


def per_repository() -> dict[str, Any]:
    """Flow control of a function that works on one repository."""
    return {
        "retries": RETRIES,
        "concurrency": [
            inngest.Concurrency(limit=1, key=REPOSITORY_KEY, scope="env"),
            GLOBAL_CONCURRENCY,
        ],
        "throttle": THROTTLE,
        "cancel": [inngest.Cancel(event=CANCEL, if_exp=CANCEL_IF)],
    }


def fan_out() -> dict[str, Any]:
    """Flow control of a function that works over many repositories."""
    return {"retries": RETRIES, "concurrency": [GLOBAL_CONCURRENCY]}


async def guarded(
    deps: Deps,
    ref: RepositoryRef | None,
    work: Callable[[], Awaitable[T]],
    *,
    at: dt.datetime,
    marks_missing: bool = True,
) -> T:
    """Run `work`; GitHub's and the store's errors become Inngest's. A repository GitHub does
    not know is marked missing (re-checked with back-off from `at`) and not retried."""
    try:
        return await work()
    except NotFound as exc:
        if ref is not None and marks_missing:
            await deps.repo().mark_missing(owner=ref.owner, name=ref.name, at=at)
        what = ref.full_name if ref else "resource"
        raise inngest.NonRetriableError(f"{what} not found on GitHub: {exc}") from None
    except RateLimited as exc:
        raise inngest.RetryAfterError(str(exc), exc.retry_at) from None
    except Refused as exc:
        raise inngest.NonRetriableError(str(exc)) from None
    except StoreError as exc:
        if exc.retriable:
            raise
        raise inngest.NonRetriableError(str(exc)) from None


async def sleep_if_needed(ctx: inngest.Context, step_id: str, until: str | None) -> None:
    """Sleep until `until` when the GraphQL budget asked for it."""
    wait_until = parse_time(until)
    if wait_until is not None and wait_until > now():
        ctx.logger.info("GraphQL budget low: sleeping until %s", until)
        await ctx.step.sleep_until(step_id, wait_until)


async def request_recompute(ctx: inngest.Context, workspaces: Sequence[str]) -> int:
    """Ask for a (debounced) recomputation of each workspace a capture made stale."""
    ids = sorted(set(workspaces))
    for i in range(0, len(ids), SEND_BATCH):
        await ctx.step.send_event(
            f"request-recompute-{i // SEND_BATCH + 1}",
            [
                inngest.Event(name=RECOMPUTE, data={"workspaceId": ws})
                for ws in ids[i : i + SEND_BATCH]
            ],
        )
    return len(ids)
