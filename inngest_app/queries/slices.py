"""Bounded slices: how many steps one run of a query may take before handing over to a fresh run.

Inngest fails a run at its 1,001st step, and each call of a run replays every step it memoized,
so a query runs as a chain of runs of at most `slice_steps` steps each. A run hands over before
starting a page that could take it past its budget in the worst case: the page's fetch, every
auto-resume wait on it (sleep, unpause, fetch again), the step that marks a failure, the sleep
after it, and the hand-over itself.

The continuation event has a deterministic id (the query and the pages done), so a retried
hand-over starts one run, not two; it carries only the hand-over token, the checkpoint itself
being in Postgres (`query_hand_over`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

MAX_AUTO_RESUMES = 5  # long rate limits waited out on one page before it stays paused
# fetch + per auto-resume (sleep, unpause, fetch again) + mark-failed + the delay sleep
PAGE_WORST_STEPS = 1 + 3 * MAX_AUTO_RESUMES + 1 + 1
HANDOVER_STEPS = 1
CLAIM_STEPS = 1
MIN_SLICE_STEPS = CLAIM_STEPS + PAGE_WORST_STEPS + HANDOVER_STEPS  # one page a slice, at least


def handover_event_id(query_id: uuid.UUID, pages_done: int) -> str:
    """The continuation event's id: the same for every attempt of one hand-over."""
    return f"query-{query_id}-handover-{pages_done}"


@dataclass
class SliceBudget:
    """Steps a run has taken so far, against its slice budget."""

    slice_steps: int
    used: int = CLAIM_STEPS

    def __post_init__(self) -> None:
        if self.slice_steps < MIN_SLICE_STEPS:
            raise ValueError(f"a slice needs at least {MIN_SLICE_STEPS} steps")

    def took(self, steps: int = 1) -> None:
        """The run took `steps` more steps."""
        self.used += steps

    def room_for_a_page(self) -> bool:
        """Whether one more page fits in the worst case, leaving room to hand over."""
        return self.used + PAGE_WORST_STEPS + HANDOVER_STEPS <= self.slice_steps
