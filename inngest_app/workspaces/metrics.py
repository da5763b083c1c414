"""Pure arithmetic of workspace metrics: the trend rule, velocity and a window's summary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Protocol


class DayFigures(Protocol):
    """What a summary reads of a daily row."""

    @property
    def date(self) -> dt.date: ...
    @property
    def total_prs(self) -> int: ...
    @property
    def prs_opened(self) -> int: ...
    @property
    def prs_merged(self) -> int: ...
    @property
    def prs_closed(self) -> int: ...
    @property
    def reviews(self) -> int: ...
    @property
    def comments(self) -> int: ...


def trend(current: float, previous: float) -> int:
    """The seed's rule: round((current - previous) / previous * 100), or 100 when previous is 0.

    Rounds half away from zero, as Postgres' `round(numeric)` does, so SQL and Python agree."""
    if previous == 0:
        return 100
    value = (current - previous) / previous * 100
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


def velocity(merged: int, days: int) -> float:
    """PRs merged per day over a period: merged / max(1, days)."""
    return merged / max(1, days)


def summarize(
    current: Sequence[DayFigures], previous: Sequence[DayFigures], *, days: int
) -> dict[str, Any]:
    """Totals of a window of daily rows, its velocity, and its trend against the window before."""
    totals = {
        field: sum(getattr(row, field) for row in current)
        for field in ("total_prs", "prs_opened", "prs_merged", "prs_closed", "reviews", "comments")
    }
    before = sum(row.total_prs for row in previous)
    return {
        "days": days,
        "totalPrs": totals["total_prs"],
        "prsOpened": totals["prs_opened"],
        "prsMerged": totals["prs_merged"],
        "prsClosed": totals["prs_closed"],
        "reviews": totals["reviews"],
        "comments": totals["comments"],
        "prVelocity": velocity(totals["prs_merged"], days),
        "previousTotalPrs": before,
        "trend": trend(totals["total_prs"], before),
    }
