"""The load-and-fault scenarios, sized by a `Sizes`; shared by the tests and `bench/load.py`.

Each scenario sends its traffic into a running `Stack`, breaks what it breaks while the traffic
flows, waits until every run is terminal, and returns an `Outcome` whose `problems` list every
lost, doubled or unfinished effect (see `Workload.check`).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

from tests.load.stack import Stack
from tests.load.workload import Workload


@dataclass(frozen=True)
class Sizes:
    """How much each scenario sends. `ci()` for `make test`, `soak()` for `make soak`."""

    mixed_events: int
    restart_events: int
    outage_s: float
    kill_events: int
    storm_events: int
    storm_deliveries: int
    limited_queries: int
    settle_s: float

    @staticmethod
    def ci() -> Sizes:
        """A few hundred events in all: the suite's small version."""
        return Sizes(
            mixed_events=80,
            restart_events=50,
            outage_s=5,
            kill_events=30,
            storm_events=25,
            storm_deliveries=100,
            limited_queries=6,
            settle_s=90,
        )

    @staticmethod
    def soak() -> Sizes:
        """The issue's full sizes."""
        return Sizes(
            mixed_events=2000,
            restart_events=600,
            outage_s=5,
            kill_events=400,
            storm_events=100,
            storm_deliveries=500,
            limited_queries=60,
            settle_s=600,
        )

    @staticmethod
    def from_env() -> Sizes:
        """`LOAD_SOAK=1` selects the full sizes."""
        return Sizes.soak() if os.environ.get("LOAD_SOAK") == "1" else Sizes.ci()


@dataclass
class Outcome:
    """What a scenario found, and its figures."""

    name: str
    events: int
    runs: int
    steps: int
    wall_s: float
    problems: list[str]
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def steps_per_s(self) -> float:
        """App calls (steps and function bodies) per second of wall time."""
        return self.steps / self.wall_s if self.wall_s else 0.0


def _split(total: int, shares: dict[str, float]) -> dict[str, int]:
    counts = {name: int(total * share) for name, share in shares.items()}
    first = next(iter(shares))
    counts[first] += total - sum(counts.values())
    return counts


async def _mixed_traffic(w: Workload, events: int, *, query_delay_ms: int = 0) -> None:
    """`events` events across every family, sent at once from several producers."""
    shares = {"pings": 0.4, "payments": 0.25, "subs": 0.2, "queries": 0.15}
    if w.has("capture-pr-details"):  # the github family: throttled to 60 starts a minute
        shares.update(pings=shares["pings"] - 0.03, pulls=0.03)
    if w.has("aggregate-workspace-metrics"):
        shares.update(pings=shares["pings"] - 0.03, workspaces=0.03)
    if w.has("skill-execute"):
        shares.update(pings=shares["pings"] - 0.03, skills=0.03)
    n = _split(events, shares)
    subs = max(1, n["subs"] // 4)
    workspaces = await w.workspace_events(n.get("workspaces", 0))
    await asyncio.gather(
        w.send_events(
            w.ping_events(n["pings"]) + w.pull_request_events(n.get("pulls", 0)) + workspaces
        ),
        w.deliver(w.payment_bodies(n["payments"]) + w.subscription_bodies(subs, 4)),
        w.start_queries(n["queries"], pages=3, delay_ms=query_delay_ms),
        w.start_skill_runs(n.get("skills", 0)),
    )


async def _finish(
    w: Workload,
    name: str,
    started: float,
    sizes: Sizes,
    *,
    monitoring: list[str] | None = None,
    **notes: Any,
) -> Outcome:
    await w.settle(within_s=sizes.settle_s)
    wall = time.monotonic() - started
    problems = await w.check(monitoring=monitoring)
    runs = w.runs()
    return Outcome(name, w.sent.events, len(runs), w.steps(), wall, problems, notes)


async def mixed_load(stack: Stack, sizes: Sizes, *, events: int | None = None) -> Outcome:
    """Every family at once: pings, Stripe payments and subscriptions, paged queries."""
    w = Workload(stack, f"mix{int(time.time() * 1000) % 10**8}")
    started = time.monotonic()
    await _mixed_traffic(w, events or sizes.mixed_events)
    return await _finish(w, "mixed", started, sizes)


async def database_restart(stack: Stack, sizes: Sizes) -> Outcome:
    """Postgres stopped for `outage_s` while events flow, then started again."""
    w = Workload(stack, f"pg{int(time.time() * 1000) % 10**8}")
    started = time.monotonic()
    half = sizes.restart_events // 2
    traffic = asyncio.create_task(_mixed_traffic(w, half))
    await asyncio.sleep(1.0)
    await asyncio.to_thread(stack.pg.stop)
    stopped = time.monotonic()
    during = asyncio.create_task(_mixed_traffic(w, sizes.restart_events - half))
    await asyncio.sleep(max(0.0, sizes.outage_s - (time.monotonic() - stopped)))
    await asyncio.to_thread(stack.pg.start)
    outage = time.monotonic() - stopped
    await asyncio.gather(traffic, during)
    retried = sum(r.retries for r in w.runs())
    return await _finish(
        w,
        "database_restart",
        started,
        sizes,
        outage_s=round(outage, 1),
        retries=retried,
        deliveries=dict(w.sent.deliveries),
    )


async def worker_killed(stack: Stack, sizes: Sizes) -> Outcome:
    """One uvicorn worker SIGKILLed while steps run (slow source pages keep steps in flight)."""
    w = Workload(stack, f"kill{int(time.time() * 1000) % 10**8}")
    started = time.monotonic()
    traffic = asyncio.create_task(_mixed_traffic(w, sizes.kill_events, query_delay_ms=400))
    # kill a worker while it is inside steps: serving calls whose step waits on the source
    victim, mid_step = None, 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and mid_step < 2:
        await asyncio.sleep(0.05)
        ports = {p for p, n in stack.sources.in_flight.items() if n > 0}
        pids = stack.app.worker_pids()
        by_worker = {pid: len(ports & stack.app.local_ports(pid)) for pid in pids}
        if by_worker:
            victim, mid_step = max(by_worker.items(), key=lambda item: item[1])
    in_flight = stack.executor.in_flight
    killed = stack.app.kill_worker(victim if mid_step else None)
    await traffic
    monitoring: list[str] = []
    outcome = await _finish(
        w, "worker_killed", started, sizes, monitoring=monitoring, killed_pid=killed
    )
    outcome.notes["monitoring_after_kill"] = monitoring
    outcome.notes["in_flight_at_kill"] = in_flight
    outcome.notes["steps_inside_killed_worker"] = mid_step
    outcome.notes["retried_calls"] = sum(r.retries for r in w.runs())
    outcome.notes["interrupted"] = sum(
        1
        for r in w.runs()
        for s in r.step_log
        if s.op == "FunctionError" and "Error" in str((s.error or {}).get("name"))
    )
    # rows the dead worker left "started": settled from Inngest's REST API by the reconciler
    outcome.notes["started_before_reconcile"] = await _started_rows(w)
    outcome.notes["reconciled"] = await _reconcile(stack)
    outcome.notes["started_after_reconcile"] = await _started_rows(w)
    # the supervisor replaced the worker
    for _ in range(150):  # up to 30 s
        if len(stack.app.worker_pids()) >= stack.app.workers:
            break
        await asyncio.sleep(0.2)
    outcome.notes["workers_after"] = len(stack.app.worker_pids())
    return outcome


async def _started_rows(w: Workload) -> int:
    """The workload's runs whose monitoring row still says "started"."""
    ids = [
        r.run_id
        for r in w.runs()
        if r.status != "skipped" and not r.function_id.endswith("reconcile-executions")
    ]
    rows = await w.stack.db.fetchval(
        "select count(*) from inngest_function_executions"
        " where run_id = any($1::text[]) and status = 'started'",
        ids,
    )
    return int(rows)


async def _reconcile(stack: Stack, within_s: float = 60) -> dict[str, Any]:
    """Fire the reconciliation cron (as its schedule would) and wait for its run; its output."""
    cron = await stack.executor.fire_cron("reconcile-executions")
    deadline = time.monotonic() + within_s
    while not stack.executor.run(cron.run_id).done:
        if time.monotonic() > deadline:
            raise TimeoutError(f"reconcile-executions not done after {within_s}s")
        await asyncio.sleep(0.1)
    run = stack.executor.run(cron.run_id)
    if run.status != "completed":
        raise RuntimeError(f"reconcile-executions {run.status}: {run.error}")
    output: dict[str, Any] = run.output
    return output


async def stripe_storm(stack: Stack, sizes: Sizes) -> Outcome:
    """`storm_deliveries` deliveries of `storm_events` distinct events, shuffled, with
    out-of-order subscription updates: one effect per event, each subscription newest."""
    w = Workload(stack, f"storm{int(time.time() * 1000) % 10**8}")
    started = time.monotonic()
    subs_events = sizes.storm_events * 3 // 5
    subscriptions = max(1, subs_events // 4)
    bodies = w.subscription_bodies(subscriptions, 4) + w.payment_bodies(
        sizes.storm_events - subscriptions * 4
    )
    copies = sizes.storm_deliveries // len(bodies)
    storm = [b for b in bodies for _ in range(copies)]
    storm += bodies[: sizes.storm_deliveries - len(storm)]
    w.rng.shuffle(storm)
    await w.deliver(storm, concurrency=16)
    outcome = await _finish(w, "stripe_storm", started, sizes)
    stripe_runs = [r for r in w.runs() if not r.function_id.endswith("record-terminal-state")]
    if len(stripe_runs) != len(bodies):
        outcome.problems.append(f"{len(stripe_runs)} runs for {len(bodies)} distinct events")
    outcome.notes.update(deliveries=dict(w.sent.deliveries), distinct=len(bodies))
    return outcome


async def rate_limited(stack: Stack, sizes: Sizes) -> Outcome:
    """The query source answers 429 (Retry-After 1 s) and GitHub its secondary-limit 403
    (Retry-After 3 s) to 40% of requests for the first part of the run: queries wait or pause
    and resume, PR captures wait, none fails."""
    w = Workload(stack, f"rl{int(time.time() * 1000) % 10**8}")
    started = time.monotonic()
    stack.sources.limit(0.4, retry_after_s=1)
    limited_before = stack.sources.seen["source:429"]
    # the limits last 4 s whatever the size: a PR capture's retries (3, at Retry-After 3 s)
    # outlast them; a longer secondary limit fails captures for good (they do not pause)
    sending: list[asyncio.Task[None]] = []
    try:
        if w.has("capture-pr-details"):
            pulls = w.pull_request_events(sizes.limited_queries)
            sending.append(asyncio.create_task(w.send_events(pulls)))
        sending.append(asyncio.create_task(w.start_queries(sizes.limited_queries, pages=4)))
        await asyncio.sleep(4)
    finally:
        stack.sources.unlimit()
    await asyncio.gather(*sending)
    outcome = await _finish(w, "rate_limited", started, sizes)
    refused = stack.sources.seen["source:429"] - limited_before
    outcome.notes["answered_429"] = refused
    outcome.notes["github_refused"] = stack.sources.seen["github:429"]
    if refused == 0:
        outcome.problems.append("the source never answered 429: the scenario tested nothing")
    return outcome
