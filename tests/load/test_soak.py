"""Load and faults (issue 16): nothing lost or doubled when the service is pushed and broken.

Each test drives the real stack (`tests/load/stack.py`) through one scenario
(`tests/load/scenarios.py`) and fails on any difference between what was sent and what the
database holds, by natural keys. `make test` runs the small sizes, `make soak` the full ones.
"""

from __future__ import annotations

import pytest

from tests.load import scenarios
from tests.load.scenarios import Outcome, Sizes
from tests.load.stack import Stack

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _report(outcome: Outcome) -> str:
    return (
        f"{outcome.name}: {outcome.events} events, {outcome.runs} runs, {outcome.steps} calls "
        f"in {outcome.wall_s:.1f}s ({outcome.steps_per_s:.0f}/s) {outcome.notes}"
    )


async def test_mixed_load_every_run_terminal_every_effect_once(stack: Stack, sizes: Sizes) -> None:
    outcome = await scenarios.mixed_load(stack, sizes)
    print(_report(outcome))
    assert outcome.problems == []
    assert outcome.runs >= outcome.events


async def test_stripe_redelivery_storm_one_effect_per_event_newest_state(
    stack: Stack, sizes: Sizes
) -> None:
    outcome = await scenarios.stripe_storm(stack, sizes)
    print(_report(outcome))
    assert outcome.problems == []
    assert outcome.notes["deliveries"].get("200", 0) >= sizes.storm_deliveries


async def test_rate_limited_source_runs_wait_and_complete(stack: Stack, sizes: Sizes) -> None:
    outcome = await scenarios.rate_limited(stack, sizes)
    print(_report(outcome))
    assert outcome.problems == []


async def test_database_restart_mid_load_runs_retry_and_finish(stack: Stack, sizes: Sizes) -> None:
    outcome = await scenarios.database_restart(stack, sizes)
    print(_report(outcome))
    assert outcome.problems == []
    assert outcome.notes["retries"] > 0  # the outage was felt, and retried through


async def test_worker_killed_mid_step_interrupted_steps_retried_effects_once(
    stack: Stack, sizes: Sizes
) -> None:
    outcome = await scenarios.worker_killed(stack, sizes)
    print(_report(outcome))
    assert outcome.problems == []
    assert outcome.notes["steps_inside_killed_worker"] > 0  # killed mid-step
    assert outcome.notes["retried_calls"] > 0  # the cut calls were retried
    assert outcome.notes["workers_after"] == stack.app.workers
    # a run the dead worker never recorded the end of is settled from Inngest: none left started
    assert outcome.notes["started_after_reconcile"] == 0
    settled = outcome.notes["reconciled"]["settled"]
    assert settled >= outcome.notes["started_before_reconcile"]
