"""What a scenario sends, and what it must find afterwards, by natural keys.

A `Workload` builds events for every family (each with ids in its own namespace), sends them the
way production traffic arrives (the event API, the Stripe webhook signed as Stripe signs, the
query API with a user's token), waits until every run is terminal, and `check()` lists every
difference between what was sent and what the database holds: lost or doubled effects, runs not
terminal or not completed, monitoring rows missing, doubled or not final.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from inngest_app.stripe.signature import sign
from tests.load.sources import SHARED_FIXTURES, github_id
from tests.load.stack import JWT_SECRET, STRIPE_SECRET, Stack

FIXTURES = SHARED_FIXTURES / "stripe" / "events"
PAGE_SIZE = 10
DELIVERY_ATTEMPTS = 40  # Stripe retries for days; we retry a bounded number of times
SUB_STATUSES = ("trialing", "active", "past_due", "unpaid", "incomplete")


def _fixture(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


def user_token(user: str) -> dict[str, str]:
    """A Supabase-style user JWT (HS256) for the query API."""
    claims = {
        "sub": user,
        "exp": int(time.time()) + 3600,
        "aud": "authenticated",
        "role": "authenticated",
    }
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


@dataclass
class Sent:
    """What was sent, per family, keyed by natural ids."""

    pings: list[str] = field(default_factory=list)  # messages
    payments: dict[str, str] = field(default_factory=dict)  # stripe event id -> payment intent
    sub_events: dict[str, tuple[str, int, str]] = field(default_factory=dict)  # id->(sub,t,st)
    queries: dict[str, int] = field(default_factory=dict)  # query id -> expected rows
    pulls: list[tuple[str, str, int]] = field(default_factory=list)  # (owner, name, number)
    workspace_days: list[tuple[str, str]] = field(default_factory=list)  # (workspace id, date)
    skill_runs: list[str] = field(default_factory=list)  # run ids of POST /api/runs
    deliveries: Counter[str] = field(default_factory=Counter)  # webhook answers by status
    events: int = 0  # events and requests that start work


@dataclass
class Workload:
    """One scenario's traffic, in namespace `ns` (every natural key starts with it)."""

    stack: Stack
    ns: str
    rng: random.Random = field(default_factory=lambda: random.Random(16))  # noqa: S311
    sent: Sent = field(default_factory=Sent)
    runs_before: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._next: Counter[str] = Counter()  # running indices: every natural key unique
        self.runs_before = set(self.stack.executor._runs)
        self._payment = _fixture("payment_intent.succeeded.json")
        self._subscription = _fixture("customer.subscription.updated.json")

    # --- building events ---------------------------------------------------------------------

    def _indices(self, kind: str, count: int) -> range:
        start = self._next[kind]
        self._next[kind] += count
        return range(start, start + count)

    def ping_events(self, count: int) -> list[dict[str, Any]]:
        """`app/ping` events (two stored steps around a zero sleep)."""
        events = []
        for i in self._indices("ping", count):
            message = f"{self.ns}-ping-{i}"
            self.sent.pings.append(message)
            events.append({"name": "app/ping", "data": {"message": message, "pause_s": 0}})
        return events

    def has(self, function: str) -> bool:
        """Whether the app serves `function` (a family merged on this branch)."""
        return any(fn_id.endswith(f"-{function}") for fn_id in self.stack.executor.functions)

    def pull_request_events(self, count: int) -> list[dict[str, Any]]:
        """`capture/pr.details` events, one PR each, spread over 10 repositories."""
        events = []
        for i in self._indices("pr", count):
            owner, name, number = f"{self.ns}-org", f"repo-{i % 10}", 1000 + i
            self.sent.pulls.append((owner, name, number))
            events.append(
                {
                    "name": "capture/pr.details",
                    "data": {"repository": {"owner": owner, "name": name}, "pr_number": number},
                }
            )
        return events

    async def workspace_events(self, count: int) -> list[dict[str, Any]]:
        """`aggregate/workspace-metrics` events for workspaces made through the API, one day
        each (the day before yesterday: a closed day)."""
        events = []
        day = (dt.date.today() - dt.timedelta(days=2)).isoformat()
        for i in self._indices("workspace", count):
            answer = await self._post(
                "/api/workspaces",
                {"name": f"{self.ns} workspace {i}"},
                user_token(f"{self.ns}-user-{i % 5}"),
            )
            if answer.status_code != 201:
                raise AssertionError(f"workspace refused: {answer.status_code} {answer.text}")
            workspace_id = answer.json()["id"]
            self.sent.workspace_days.append((workspace_id, day))
            events.append(
                {
                    "name": "aggregate/workspace-metrics",
                    "data": {"workspaceId": workspace_id, "date": day},
                }
            )
        return events

    async def start_skill_runs(self, count: int) -> None:
        """`POST /api/runs` of the `social-posts` skill (the model is the stand-in)."""
        for i in self._indices("skill", count):
            answer = await self._post(
                "/api/runs",
                {"skillName": "social-posts", "message": f"{self.ns} launch post {i}"},
                user_token(f"{self.ns}-user-{i % 5}"),
            )
            if answer.status_code != 202:
                raise AssertionError(f"skill run refused: {answer.status_code} {answer.text}")
            self.sent.skill_runs.append(str(answer.json()["runId"]))
        self.sent.events += count

    def payment_bodies(self, count: int) -> list[str]:
        """`payment_intent.succeeded` envelopes, each its own event and payment intent."""
        bodies = []
        for i in self._indices("pay", count):
            event = copy.deepcopy(self._payment)
            event["id"] = f"evt_{self.ns}_pay_{i}"
            event["created"] = int(time.time()) - 60 + i % 60
            event["data"]["object"]["id"] = f"pi_{self.ns}_{i}"
            self.sent.payments[event["id"]] = event["data"]["object"]["id"]
            bodies.append(json.dumps(event))
        return bodies

    def subscription_bodies(self, subscriptions: int, updates: int) -> list[str]:
        """`customer.subscription.updated` envelopes: `updates` per subscription, each with a
        later `created` and a status drawn at random, in shuffled order."""
        bodies = []
        base = int(time.time()) - 3600
        for s in self._indices("sub", subscriptions):
            sub_id = f"sub_{self.ns}_{s}"
            for u in range(updates):
                event = copy.deepcopy(self._subscription)
                event["id"] = f"evt_{self.ns}_sub_{s}_{u}"
                event["created"] = base + u * 10
                status = self.rng.choice(SUB_STATUSES)
                obj = event["data"]["object"]
                obj.update({"id": sub_id, "status": status, "customer": f"cus_{self.ns}_{s}"})
                self.sent.sub_events[event["id"]] = (sub_id, event["created"], status)
                bodies.append(json.dumps(event))
        self.rng.shuffle(bodies)
        return bodies

    def query_body(self, index: int, *, pages: int, delay_ms: int = 0) -> dict[str, Any]:
        """A query over the paged stand-in source: `pages` full pages, `auto_resume` on."""
        name = f"{self.ns}-q{index}"
        return {
            "source": {
                "kind": "http",
                "url": f"{self.stack.sources_url}/source/items",
                "params": {"name": name, "pages": pages, "delay_ms": delay_ms},
                "results_path": "items",
                "row_key": "id",
                "pagination": {"style": "page", "size": PAGE_SIZE, "size_param": "size"},
            },
            "page_delay_s": 0,
            "auto_resume": True,
            "max_pages": pages + 5,
        }

    # --- sending -----------------------------------------------------------------------------

    async def _post(self, path: str, body: Any, headers: dict[str, str]) -> httpx.Response:
        """POST to the app; a 5xx or a cut connection (an outage, a killed worker) is asked
        again, a bounded number of times. The last answer."""
        answer: httpx.Response | None = None
        for attempt in range(DELIVERY_ATTEMPTS):
            try:
                answer = await self.stack.http.post(
                    f"{self.stack.app_url}{path}", json=body, headers=headers
                )
            except httpx.TransportError:
                answer = None
            if answer is not None and answer.status_code < 500:
                return answer
            await asyncio.sleep(min(2.0, 0.25 * (attempt + 1)))
        if answer is None:
            raise AssertionError(f"POST {path}: no answer after {DELIVERY_ATTEMPTS} attempts")
        return answer

    async def send_events(self, events: list[dict[str, Any]], *, chunk: int = 50) -> None:
        """Through the executor's event API, in chunks."""
        for start in range(0, len(events), chunk):
            await self.stack.send(events[start : start + chunk])
        self.sent.events += len(events)

    async def deliver(self, bodies: list[str], *, concurrency: int = 8) -> None:
        """Stripe webhook deliveries, signed as Stripe signs them; a non-2xx answer is
        delivered again later (as Stripe does), a bounded number of times."""
        queue = list(bodies)
        self.sent.events += len(bodies)

        async def one(body: str) -> None:
            for attempt in range(DELIVERY_ATTEMPTS):
                headers = {"Stripe-Signature": sign(body, STRIPE_SECRET)}
                headers["Content-Type"] = "application/json"
                try:
                    answer = await self.stack.http.post(
                        f"{self.stack.app_url}/api/stripe/webhook", content=body, headers=headers
                    )
                    status = answer.status_code
                except Exception:  # connection reset by a killed worker: deliver again
                    status = 0
                self.sent.deliveries[str(status)] += 1
                if status == 200:
                    return
                await asyncio.sleep(min(2.0, 0.25 * (attempt + 1)))
            self.sent.deliveries["gave_up"] += 1

        async def worker() -> None:
            while queue:
                await one(queue.pop(0))

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def start_queries(
        self, count: int, *, pages: int, delay_ms: int = 0, users: int = 5
    ) -> None:
        """`POST /api/queries/run` as `users` different users; 5xx answers are retried."""
        for i in self._indices("query", count):
            body = self.query_body(i, pages=pages, delay_ms=delay_ms)
            headers = user_token(f"{self.ns}-user-{i % users}")
            answer = await self._post("/api/queries/run", body, headers)
            if answer.status_code != 202:
                raise AssertionError(f"query refused: {answer.status_code} {answer.text}")
            self.sent.queries[answer.json()["id"]] = pages * PAGE_SIZE
        self.sent.events += count

    # --- waiting and checking ------------------------------------------------------------------

    def runs(self) -> list[Any]:
        """This workload's runs (created since it began)."""
        return [r for rid, r in self.stack.executor._runs.items() if rid not in self.runs_before]

    async def settle(self, *, within_s: float) -> float:
        """Until every run of this workload is terminal and nothing is in flight (bounded);
        the time it took."""
        started = time.monotonic()
        deadline = started + within_s
        quiet = 0
        while time.monotonic() < deadline:
            pending = [r for r in self.runs() if not r.done]
            quiet = quiet + 1 if not pending and self.stack.executor.in_flight == 0 else 0
            if quiet >= 5:  # stable for a few ticks: no system event left to start a run
                return time.monotonic() - started
            await asyncio.sleep(0.1)
        states = Counter(f"{r.function_id}:{r.status}" for r in self.runs() if not r.done)
        raise TimeoutError(f"runs not terminal after {within_s}s: {dict(states)}")

    async def monitoring_rows(self, *, within_s: float) -> dict[str, dict[str, Any]]:
        """The monitoring rows of this workload's runs, once the recorders caught up (every
        run has a final row), or nothing changed for 3 s (several flush intervals), or
        `within_s` passed."""
        run_ids = [r.run_id for r in self.runs() if r.status != "skipped"]
        deadline = time.monotonic() + within_s
        last: dict[str, dict[str, Any]] = {}
        unchanged_since = time.monotonic()
        while True:
            fetched = await self.stack.db.fetch(
                "select run_id, status, function_id from inngest_function_executions"
                " where run_id = any($1::text[])",
                run_ids,
            )
            rows = {r["run_id"]: dict(r) for r in fetched}
            caught_up = len(rows) == len(run_ids) and all(
                row["status"] != "started" for row in rows.values()
            )
            if rows != last:
                last, unchanged_since = rows, time.monotonic()
            now = time.monotonic()
            if caught_up or now > deadline or now - unchanged_since > 3.0:
                return rows
            await asyncio.sleep(0.25)

    async def check(
        self, *, expect_all_completed: bool = True, monitoring: list[str] | None = None
    ) -> list[str]:
        """Every difference between what was sent and what was done (empty when none).

        Monitoring differences go to `monitoring` instead when a list is given (a SIGKILLed
        worker loses the observations it had not flushed: a known limit, reported apart)."""
        problems: list[str] = []
        watched = problems if monitoring is None else monitoring
        runs = self.runs()
        if self.sent.deliveries["gave_up"]:
            problems.append(f"webhook deliveries given up: {self.sent.deliveries['gave_up']}")
        not_done = [r for r in runs if not r.done]
        if not_done:
            problems.append(f"{len(not_done)} runs not terminal")
        if expect_all_completed:
            bad = Counter(
                f"{r.function_id}:{r.status}:{(r.error or {}).get('message', '')[:80]}"
                for r in runs
                if r.status != "completed"
            )
            if bad:
                problems.append(f"runs not completed: {dict(bad)}")
        rows = await self.monitoring_rows(within_s=30)
        expected = {r.run_id: r for r in runs if r.status != "skipped"}
        missing = [rid for rid in expected if rid not in rows]
        if missing:
            watched.append(f"{len(missing)} runs without a monitoring row")
        wrong = Counter(
            f"{expected[rid].status}->{row['status']}"
            for rid, row in rows.items()
            if row["status"] != expected[rid].status
        )
        if wrong:
            watched.append(f"monitoring rows not in the run's final state: {dict(wrong)}")
        known = set(self.stack.executor._runs)
        recorded = await self.stack.db.fetch("select run_id from inngest_function_executions")
        orphans = [r["run_id"] for r in recorded if r["run_id"] not in known]
        if orphans:
            watched.append(f"{len(orphans)} monitoring rows of runs the executor never made")
        problems += await self._check_pings()
        problems += await self._check_stripe()
        problems += await self._check_queries()
        problems += await self._check_pulls()
        problems += await self._check_workspaces()
        problems += await self._check_skills()
        return problems

    async def _check_skills(self) -> list[str]:
        """Every skill run completed with exactly one output."""
        if not self.sent.skill_runs:
            return []
        rows = await self.stack.db.fetch(
            "select r.id::text as id, r.status, count(o.id) as outputs from runs r"
            " left join outputs o on o.run_id = r.id where r.id = any($1::uuid[]) group by r.id",
            [uuid.UUID(r) for r in self.sent.skill_runs],
        )
        found = Counter(r["id"] for r in rows if r["status"] == "completed" and r["outputs"] == 1)
        return _diff("skill runs completed with one output", Counter(self.sent.skill_runs), found)

    async def _check_workspaces(self) -> list[str]:
        """One daily metrics row per workspace and day aggregated."""
        if not self.sent.workspace_days:
            return []
        rows = await self.stack.db.fetch(
            "select workspace_id::text as w, date::text as d from workspace_metrics_daily"
            " where workspace_id = any($1::uuid[])",
            [uuid.UUID(w) for w, _ in self.sent.workspace_days],
        )
        found = Counter((r["w"], r["d"]) for r in rows)
        return _diff("workspace daily metrics", Counter(self.sent.workspace_days), found)

    async def _check_pulls(self) -> list[str]:
        """One pull request row per PR sent, with the recorded fixtures' 5 reviews and
        2 review + 3 issue comments each."""
        if not self.sent.pulls:
            return []
        ids = {github_id(o, n, "pr", num): (o, n, num) for o, n, num in self.sent.pulls}
        rows = await self.stack.db.fetch(
            "select p.github_id,"
            " (select count(*) from reviews r where r.pull_request_id = p.github_id) as reviews,"
            " (select count(*) from comments c where c.pull_request_id = p.github_id) as comments"
            " from pull_requests p where p.github_id = any($1::bigint[])",
            list(ids),
        )
        problems = _diff("pull requests", Counter(list(ids)), Counter(r["github_id"] for r in rows))
        wrong = [r["github_id"] for r in rows if (r["reviews"], r["comments"]) != (5, 5)]
        if wrong:
            problems.append(f"{len(wrong)} pull requests with missing or extra reviews/comments")
        return problems

    async def _check_pings(self) -> list[str]:
        if not self.sent.pings:
            return []
        rows = await self.stack.db.fetch(
            "select message, step, count(*) as n from pings where message like $1"
            " group by message, step",
            f"{self.ns}-ping-%",
        )
        found = Counter((r["message"], r["step"]) for r in rows for _ in range(r["n"]))
        want = Counter((m, s) for m in self.sent.pings for s in ("ping", "pong"))
        return _diff("ping effects (message, step)", want, found)

    async def _check_stripe(self) -> list[str]:
        ids = [*self.sent.payments, *self.sent.sub_events]
        if not ids:
            return []
        problems: list[str] = []
        ledger = await self.stack.db.fetch(
            "select event_id, outcome from stripe_events where event_id = any($1::text[])", ids
        )
        ledger_ids = Counter(r["event_id"] for r in ledger)
        problems += _diff("stripe ledger rows", Counter(ids), ledger_ids)
        payments = await self.stack.db.fetch(
            "select payment_intent_id, status from payments where payment_intent_id like $1",
            f"pi_{self.ns}_%",
        )
        problems += _diff(
            "payments",
            Counter(self.sent.payments.values()),
            Counter(r["payment_intent_id"] for r in payments if r["status"] == "succeeded"),
        )
        newest: dict[str, tuple[int, str, str]] = {}
        for event_id, (sub, created, status) in self.sent.sub_events.items():
            if sub not in newest or created > newest[sub][0]:
                newest[sub] = (created, status, event_id)
        if newest:
            subs = await self.stack.db.fetch(
                "select subscription_id, status, last_event_id from subscriptions"
                " where subscription_id = any($1::text[])",
                list(newest),
            )
            found = {r["subscription_id"]: (r["status"], r["last_event_id"]) for r in subs}
            stale = [
                sub for sub, (_, status, eid) in newest.items() if found.get(sub) != (status, eid)
            ]
            if stale:
                problems.append(f"{len(stale)} subscriptions not in their newest state")
        return problems

    async def _check_queries(self) -> list[str]:
        if not self.sent.queries:
            return []
        problems: list[str] = []
        ids = [uuid.UUID(q) for q in self.sent.queries]
        states = await self.stack.db.fetch(
            "select q.id, q.status, q.rows_inserted, count(r.id) as stored,"
            " count(distinct r.row_key) as keys"
            " from queries q left join query_results r on r.query_id = q.id"
            " where q.id = any($1::uuid[]) group by q.id",
            ids,
        )
        by_id = {str(r["id"]): r for r in states}
        for query_id, rows in self.sent.queries.items():
            state = by_id.get(query_id)
            if state is None:
                problems.append(f"query {query_id} not stored")
            elif (state["status"], state["rows_inserted"], state["stored"], state["keys"]) != (
                "completed",
                rows,
                rows,
                rows,
            ):
                problems.append(
                    f"query {query_id}: {state['status']}, counted {state['rows_inserted']}, "
                    f"stored {state['stored']} ({state['keys']} keys), expected {rows}"
                )
        return problems[:10] + ([f"... {len(problems) - 10} more"] if len(problems) > 10 else [])

    def steps(self) -> int:
        """Calls made to the app by this workload's runs (each executes one step or body)."""
        return sum(r.calls for r in self.runs())


def _diff(what: str, want: Counter[Any], found: Counter[Any]) -> list[str]:
    lost = want - found
    doubled = found - want
    out = []
    if lost:
        out.append(f"{what} lost: {sum(lost.values())} (e.g. {next(iter(lost))})")
    if doubled:
        out.append(f"{what} doubled or unexpected: {sum(doubled.values())} ({next(iter(doubled))})")
    return out
