"""Fixture activity for workspace metrics, and the metrics computed from it in plain Python
(independently of the SQL under test)."""

from __future__ import annotations

import datetime as dt
import random
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg

UTC = dt.UTC
DAY0 = dt.date(2026, 11, 1)  # fixture activity spans DAY0 .. DAY0 + SPAN_DAYS - 1
SPAN_DAYS = 10


@dataclass
class Activity:
    """What was inserted: repositories by owner/name, and the rows of each table."""

    repos: dict[tuple[str, str], int] = field(default_factory=dict)  # (owner, name) -> id
    logins: dict[int, str] = field(default_factory=dict)
    prs: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)


def _moment(rng: random.Random, day: int) -> dt.datetime:
    start = dt.datetime.combine(DAY0, dt.time(), UTC) + dt.timedelta(days=day)
    return start + dt.timedelta(seconds=rng.randrange(86_400))


async def seed_activity(
    conn: asyncpg.Connection, *, seed: int = 7, repos: int = 3, prs_per_repo: int = 40
) -> Activity:
    """Repositories `acme/repo-<i>` (synced), contributors (one of them deleted: a ghost, null
    author), and pull requests, reviews and comments spread over the fixture days."""
    rng = random.Random(seed)
    activity = Activity()
    authors = [1000 + i for i in range(8)]
    for author in authors:
        activity.logins[author] = f"dev{author - 1000}"
        await conn.execute(
            "insert into contributors (github_id, login) values ($1, $2)",
            author,
            activity.logins[author],
        )
    pr_id, review_id, comment_id = 50_000, 70_000, 90_000
    for index in range(repos):
        repo_id = await conn.fetchval(
            "insert into repositories (github_id, owner, name, last_synced_at)"
            " values ($1, 'acme', $2, now()) returning id",
            10 + index,
            f"repo-{index}",
        )
        activity.repos[("acme", f"repo-{index}")] = repo_id
        for number in range(1, prs_per_repo + 1):
            pr_id += 1
            created = _moment(rng, rng.randrange(-3, SPAN_DAYS))
            fate = rng.choice(["open", "merged", "merged", "closed"])
            ended = created + dt.timedelta(hours=rng.uniform(0.5, 96)) if fate != "open" else None
            author = None if rng.random() < 0.1 else rng.choice(authors)
            pr = {
                "github_id": pr_id,
                "repository_id": repo_id,
                "number": number,
                "state": fate,
                "merged": fate == "merged",
                "created_at": created,
                "merged_at": ended if fate == "merged" else None,
                "closed_at": ended,
                "author_id": author,
            }
            activity.prs.append(pr)
            await conn.execute(
                "insert into pull_requests (github_id, repository_id, number, title, state,"
                " merged, merged_at, created_at, updated_at, closed_at, author_id)"
                " values ($1, $2, $3, 'pr', $4, $5, $6, $7, $7, $8, $9)",
                pr_id,
                repo_id,
                number,
                fate,
                pr["merged"],
                pr["merged_at"],
                created,
                ended,
                author,
            )
            for _ in range(rng.randrange(0, 4)):
                review_id += 1
                review = {
                    "pull_request_id": pr_id,
                    "author_id": None if rng.random() < 0.1 else rng.choice(authors),
                    "submitted_at": created + dt.timedelta(hours=rng.uniform(0, 72)),
                }
                activity.reviews.append(review)
                await conn.execute(
                    "insert into reviews (github_id, pull_request_id, author_id, state,"
                    " submitted_at) values ($1, $2, $3, 'APPROVED', $4)",
                    review_id,
                    pr_id,
                    review["author_id"],
                    review["submitted_at"],
                )
            for _ in range(rng.randrange(0, 5)):
                comment_id += 1
                comment = {
                    "pull_request_id": pr_id,
                    "author_id": rng.choice(authors),
                    "created_at": created + dt.timedelta(hours=rng.uniform(0, 72)),
                }
                activity.comments.append(comment)
                await conn.execute(
                    "insert into comments (kind, github_id, pull_request_id, author_id,"
                    " created_at) values ($1, $2, $3, $4, $5)",
                    rng.choice(["issue", "review"]),
                    comment_id,
                    pr_id,
                    comment["author_id"],
                    comment["created_at"],
                )
    return activity


def _on(moment: dt.datetime | None, day: dt.date) -> bool:
    return moment is not None and moment.astimezone(UTC).date() == day


def _trend(current: int, previous: int) -> int:
    if previous == 0:
        return 100
    change = (current - previous) * 100 / previous
    return int(change + 0.5) if change >= 0 else -int(-change + 0.5)


def expected_day(activity: Activity, members: set[tuple[str, str]], day: dt.date) -> dict[str, Any]:
    """The day's metrics for a workspace of `members`, computed row by row in Python."""
    repo_ids = {activity.repos[m] for m in members if m in activity.repos}
    prs = [p for p in activity.prs if p["repository_id"] in repo_ids]
    pr_ids = {p["github_id"] for p in prs}
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), UTC)

    def active(p: dict[str, Any], on: dt.date) -> bool:
        closed = not p["merged"] and _on(p["closed_at"], on)
        return _on(p["created_at"], on) or _on(p["merged_at"], on) or closed

    opened = [p for p in prs if _on(p["created_at"], day)]
    merged = [p for p in prs if _on(p["merged_at"], day)]
    closed = [p for p in prs if not p["merged"] and _on(p["closed_at"], day)]
    reviews = [r for r in activity.reviews if r["pull_request_id"] in pr_ids]
    reviews = [r for r in reviews if _on(r["submitted_at"], day)]
    comments = [c for c in activity.comments if c["pull_request_id"] in pr_ids]
    comments = [c for c in comments if _on(c["created_at"], day)]
    people: Counter[int] = Counter()
    for who in (
        [p["author_id"] for p in opened]
        + [r["author_id"] for r in reviews]
        + [c["author_id"] for c in comments]
    ):
        if who is not None:
            people[who] += 1
    hours = [(p["merged_at"] - p["created_at"]).total_seconds() / 3600 for p in merged]
    total = sum(1 for p in prs if active(p, day))
    yesterday = sum(1 for p in prs if active(p, day - dt.timedelta(days=1)))
    top = sorted(people.items(), key=lambda kv: (-kv[1], activity.logins[kv[0]]))[:10]
    return {
        "total_prs": total,
        "prs_opened": len(opened),
        "prs_merged": len(merged),
        "prs_closed": len(closed),
        "open_at_end": sum(
            1
            for p in prs
            if p["created_at"] < end and (p["closed_at"] is None or p["closed_at"] >= end)
        ),
        "active_contributors": len(people),
        "reviews": len(reviews),
        "comments": len(comments),
        "median_time_to_merge_hours": statistics.median(hours) if hours else None,
        "pr_velocity": float(len(merged)),
        "top_contributors": [(activity.logins[who], count) for who, count in top],
        "trend_total_prs": _trend(total, yesterday),
    }
