"""Capture policy and parsing: pure functions, checked on their own."""

from __future__ import annotations

import datetime as dt

import pytest

from inngest_app.github.client import RateLimit
from inngest_app.github.parse import Batch, rest_comments, rest_pull_request, rest_user, size_class
from inngest_app.github.plan import (
    back_off_until,
    max_pages,
    plan_syncs,
    skip_reason,
    valid_name,
    valid_owner,
)
from inngest_app.repos.github import Repository, SyncState
from tests.github import support

NOW = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)


def repository(
    name: str, *, synced_h: float | None, priority: bool = False, **kw: object
) -> Repository:
    last = None if synced_h is None else NOW - dt.timedelta(hours=synced_h)
    return Repository.model_validate(
        {
            "id": hash(name) % 1000,
            "github_id": hash(name) % 100000,
            "owner": "acme",
            "name": name,
            "is_priority": priority,
            "last_synced_at": last,
            "sync_state": [] if last is None else [{"kind": "activity", "last_run_at": last}],
            "created_at": NOW,
            "updated_at": NOW,
            **kw,
        }
    )


@pytest.mark.parametrize(
    ("count", "expected"),
    [(0, "small"), (99, "small"), (100, "medium"), (500, "medium"), (501, "large")],
)
def test_size_classes(count: int, expected: str) -> None:
    assert size_class(count) == expected


def test_depth_follows_size() -> None:
    assert (max_pages("small", None), max_pages("medium", None), max_pages("large", None)) == (
        1,
        5,
        10,
    )
    assert max_pages(None, 250) == 5


def _state(synced_h: float | None, **kw: object) -> SyncState:
    last = None if synced_h is None else NOW - dt.timedelta(hours=synced_h)
    return SyncState.model_validate({"kind": "activity", "last_run_at": last, **kw})


def test_skip_windows_by_reason() -> None:
    fresh = _state(0.5)
    assert skip_reason(fresh, "manual", now=NOW) is None  # 30 min > 5 min
    assert skip_reason(_state(4 / 60), "manual", now=NOW) is not None  # 4 min < 5 min
    assert skip_reason(fresh, "automatic", now=NOW) is not None  # within 1 h
    assert skip_reason(_state(1.01), "automatic", now=NOW) is None
    assert skip_reason(_state(23), "scheduled", now=NOW) is not None
    assert skip_reason(_state(24.01), "scheduled", now=NOW) is None
    assert skip_reason(_state(None), "scheduled", now=NOW) is None
    assert skip_reason(None, "manual", now=NOW) is None


def test_a_pass_in_progress_is_never_skipped_and_only_it_is_continued() -> None:
    behind = _state(0.01, pass_cursor="50", pass_high=NOW)
    for reason in ("manual", "automatic", "scheduled", "continuation"):
        assert skip_reason(behind, reason, now=NOW) is None  # type: ignore[arg-type]
    assert skip_reason(_state(0.01), "continuation", now=NOW) == "no pass to continue"
    assert skip_reason(None, "continuation", now=NOW) == "no pass to continue"


def test_priority_first_then_least_recently_synced() -> None:
    planned = plan_syncs(
        [
            repository("daily-due", synced_h=30),
            repository("daily-fresh", synced_h=2),
            repository("prio-fresh", synced_h=0.5, priority=True),
            repository("prio-due", synced_h=2, priority=True),
            repository("prio-never", synced_h=None, priority=True),
            repository("gone", synced_h=None, status="missing"),
        ],
        now=NOW,
    )
    assert [(p.name, p.reason) for p in planned] == [
        ("prio-never", "automatic"),
        ("prio-due", "automatic"),
        ("daily-due", "scheduled"),
    ]


def test_graphql_back_off_before_the_budget_runs_out() -> None:
    reset = NOW + dt.timedelta(minutes=20)
    assert back_off_until(RateLimit(cost=1, remaining=4000, reset_at=reset)) is None
    assert back_off_until(RateLimit(cost=1, remaining=99, reset_at=reset)) == reset
    assert back_off_until(RateLimit(cost=300, remaining=500, reset_at=reset)) == reset
    assert back_off_until(None) is None


@pytest.mark.parametrize("owner", ["octocat", "a", "my-org", "A1-b2"])
def test_valid_owners(owner: str) -> None:
    assert valid_owner(owner)


@pytest.mark.parametrize("owner", ["", "-x", "x-", "a--b", "a/b", "../x", "a" * 40, "a b"])
def test_invalid_owners(owner: str) -> None:
    assert not valid_owner(owner)


def test_names() -> None:
    assert valid_name("my.repo_name-2") and valid_name(".github")
    assert not any(valid_name(n) for n in ["", ".", "..", "a/b", "a?b", "x" * 101])


def test_rest_pull_request_and_ghosts() -> None:
    body = support.recorded("rest/recorded/pygithub/pulls.get.PyGithub-3370.2026-01.json")[0][
        "response"
    ]["body"]
    batch = Batch()
    row = rest_pull_request(body, batch)
    assert (row.state, row.merged, row.draft, row.author_id) == ("merged", True, False, 49699333)
    assert (row.base_ref, row.commits) == ("main", 1)
    assert rest_user(None) is None
    assert rest_user({"login": "ghost", "id": 10137, "type": "User"}) is None
    rest_comments(
        [{"id": 1, "user": None, "created_at": "2026-01-01T00:00:00Z"}],
        row.github_id,
        batch,
        kind="issue",
    )
    assert batch.comments[0].author_id is None
