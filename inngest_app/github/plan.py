"""Capture policy: which repositories to sync, how deep, when to skip, when to back off. Pure."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import AfterValidator

from inngest_app.github.client import RateLimit
from inngest_app.repos.github import SYNC_KINDS, Repository, SyncState

# "continuation": a run that picks up a pass where the previous run stopped (never skipped).
SyncReason = Literal["manual", "scheduled", "automatic", "continuation"]

# A repository synced more recently than this is skipped, by what asked for the sync.
SKIP_WINDOW: dict[str, dt.timedelta] = {
    "continuation": dt.timedelta(0),
    "manual": dt.timedelta(minutes=5),
    "automatic": dt.timedelta(hours=1),
    "scheduled": dt.timedelta(hours=24),
}
PAGE_SIZE = 100
# Pages of 100 pull requests a sync reads at most (newest updated first), by size class.
MAX_PAGES = {"small": 1, "medium": 5, "large": 10}
# Priority repositories are asked for every hour (reason `automatic`), the others daily.
PRIORITY_INTERVAL = dt.timedelta(hours=1)
REGULAR_INTERVAL = dt.timedelta(hours=24)
# GraphQL points kept in reserve: below them a sync sleeps until the budget resets.
GRAPHQL_RESERVE_POINTS = 100

# GitHub's rules: an owner is 1-39 letters, digits or inner single hyphens; a repository name
# is 1-100 of letters, digits, `.`, `-`, `_`, and never `.` or `..`.
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$")
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def valid_owner(owner: str) -> bool:
    """Whether `owner` can be a GitHub user or organisation login."""
    return bool(_OWNER.match(owner))


def valid_name(name: str) -> bool:
    """Whether `name` can be a GitHub repository name (safe in a URL path)."""
    return bool(_NAME.match(name)) and name not in {".", ".."}


def _checked_owner(value: str) -> str:
    if not valid_owner(value):
        raise ValueError("not a GitHub owner (letters, digits, inner hyphens; 1-39)")
    return value


def _checked_name(value: str) -> str:
    if not valid_name(value):
        raise ValueError("not a GitHub repository name (letters, digits, . - _; 1-100)")
    return value


# Pydantic checks (and field types) for an owner and a repository name by GitHub's rules.
OWNER_RULE = AfterValidator(_checked_owner)
NAME_RULE = AfterValidator(_checked_name)
GithubOwner = Annotated[str, OWNER_RULE]
GithubName = Annotated[str, NAME_RULE]


def skip_reason(state: SyncState | None, reason: SyncReason, *, now: dt.datetime) -> str | None:
    """Why a sync of one kind asked for `reason` need not run, or None.

    A continuation runs while its pass is in progress; any other sync runs when its kind never
    ran, when a pass of its kind is in progress (it goes on with it), or when the kind's last
    run is older than the reason's window."""
    if reason == "continuation":
        return None if state is not None and state.in_progress else "no pass to continue"
    if state is None or state.last_run_at is None or state.in_progress:
        return None
    age = now - state.last_run_at
    window = SKIP_WINDOW[reason]
    if age < window:
        return f"synced {int(age.total_seconds())}s ago (a {reason} sync skips within {window})"
    return None


def max_pages(size: str | None, pr_count: int | None) -> int:
    """How many pages a sync of a repository of this size reads at most."""
    if size is None and pr_count is not None:
        size = "small" if pr_count < 100 else "medium" if pr_count <= 500 else "large"
    return MAX_PAGES.get(size or "large", MAX_PAGES["large"])


def back_off_until(rate: RateLimit | None) -> dt.datetime | None:
    """When the GraphQL budget is too low for another query like the last: wait until reset."""
    if rate is None:
        return None
    if rate.remaining < max(GRAPHQL_RESERVE_POINTS, 2 * rate.cost):
        return rate.reset_at
    return None


@dataclass(frozen=True)
class PlannedSync:
    """One `capture/repository.sync` to send."""

    owner: str
    name: str
    github_id: int
    reason: SyncReason
    priority: bool


def plan_syncs(repositories: Sequence[Repository], *, now: dt.datetime) -> list[PlannedSync]:
    """Syncs due now: priority repositories first (hourly), then the others (daily), each
    group least recently synced first (by the reviews-and-comments sync, the one metrics need);
    missing repositories never."""
    due: list[tuple[int, float, PlannedSync]] = []
    for repo in repositories:
        if repo.status != "active":
            continue
        interval = PRIORITY_INTERVAL if repo.is_priority else REGULAR_INTERVAL
        state = repo.state("activity")
        last = state.last_run_at if state is not None else None
        if last is not None and now - last < interval:
            continue
        reason: SyncReason = "automatic" if repo.is_priority else "scheduled"
        planned = PlannedSync(repo.owner, repo.name, repo.github_id, reason, repo.is_priority)
        due.append((0 if repo.is_priority else 1, last.timestamp() if last else 0.0, planned))
    return [p for _, _, p in sorted(due, key=lambda d: (d[0], d[1]))]


def capture_view(repository: Repository) -> dict[str, object]:
    """Where a repository's capture stands, for the API: `captured` once every kind of sync
    (pull requests; reviews and comments) has completed a pass and none is in progress,
    `missing` when GitHub does not know it, `capturing` otherwise; and each kind's state."""
    kinds = []
    for kind in SYNC_KINDS:
        state = repository.state(kind) or SyncState(kind=kind)
        kinds.append(
            {
                "kind": kind,
                "caught_up": state.caught_up,
                "in_progress": state.in_progress,
                "watermark": state.watermark.isoformat() if state.watermark else None,
                "last_run_at": state.last_run_at.isoformat() if state.last_run_at else None,
                "completed_at": state.completed_at.isoformat() if state.completed_at else None,
            }
        )
    if repository.status == "missing":
        overall = "missing"
    elif all(k["caught_up"] for k in kinds):
        overall = "captured"
    else:
        overall = "capturing"
    return {"state": overall, "kinds": kinds}
