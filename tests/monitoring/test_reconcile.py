"""Reconciliation end to end (cloud mode): rows a dead worker left "started" are settled from
Inngest's REST API (`GET /v1/runs/{id}` with the signing key), billed once, and only when Inngest
says the run ended."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx

from inngest_app.repos.executions import ExecutionsRepo
from tests.harness import SIGNING_KEY, Live, LiveFactory


async def drain(live: Live) -> None:
    recorder = live.app.state.recorder
    while recorder.depth:
        assert await recorder.flush()


async def lose_the_end(live: Live, run_id: str, age: str = "2 hours") -> dict[str, Any]:
    """The row as it is when the worker died before flushing the run's last call."""
    row = await live.pool.fetchrow(
        "update inngest_function_executions set status = 'started', completed_at = null,"
        " duration_ms = null, error_message = null,"
        " started_at = now() - $2::text::interval where run_id = $1 returning *",
        run_id,
        age,
    )
    assert row is not None
    return dict(row)


async def reconcile(live: Live) -> dict[str, Any]:
    cron = await live.executor.fire_cron("reconcile-executions")
    await live.executor.run_until_idle()
    run = live.executor.run(cron.run_id)
    assert run.status == "completed", run.error
    output: dict[str, Any] = run.output
    return output


async def status_of(live: Live, run_id: str) -> str:
    return str(
        await live.pool.fetchval(
            "select status from inngest_function_executions where run_id = $1", run_id
        )
    )


async def test_rows_left_started_are_settled_from_inngest_once(start_live: LiveFactory) -> None:
    async with start_live(cloud=True, monitoring_reconcile_after_s=1800) as live:
        await live.executor.send({"name": "app/ping", "data": {"pause_s": 0}})
        await live.executor.send({"name": "app/ping", "data": {"pause_s": 10**6}})  # fails
        await live.executor.send({"name": "app/ping", "data": {"pause_s": 0}})
        await live.executor.run_until_idle()
        await drain(live)
        done, failed, recent = (r.run_id for r in live.executor.runs("ping"))
        assert live.executor.run(failed).status == "failed"
        before = await lose_the_end(live, done)
        await lose_the_end(live, failed)
        await lose_the_end(live, recent, age="10 minutes")  # not past the threshold yet
        await live.pool.execute(
            "insert into inngest_function_executions (run_id, function_id, started_at)"
            " values ('01UNKNOWNRUN', 'inngest-app-ping', now() - interval '3 hours')"
        )
        settled = await reconcile(live)
        assert settled == {"stale": 3, "settled": 2, "open": 0, "unknown": 1}
        after = await live.pool.fetchrow(
            "select * from inngest_function_executions where run_id = $1", done
        )
        assert after["status"] == "completed" and after["completed_at"] is not None
        assert after["step_count"] == before["step_count"]  # billed once
        assert (
            after["duration_ms"] is not None
            and json.loads(after["metadata"])["reconciled"] == "Completed"
        )
        assert await status_of(live, failed) == "failed"
        error = await live.pool.fetchval(
            "select error_message from inngest_function_executions where run_id = $1", failed
        )
        assert "pause_s" in error
        assert await status_of(live, recent) == "started"
        assert await status_of(live, "01UNKNOWNRUN") == "started"
        # again: the settled rows are not asked about twice, nor billed twice, and the unknown
        # one waits an hour before it is asked again (it never crowds out the others)
        again = await reconcile(live)
        assert again == {"stale": 0, "settled": 0, "open": 0, "unknown": 0}
        wait = await live.pool.fetchval(
            "select extract(epoch from reconcile_after - now())"
            " from inngest_function_executions where run_id = '01UNKNOWNRUN'"
        )
        assert 59 * 60 < wait <= 3600
        steps = await live.pool.fetchval(
            "select step_count from inngest_function_executions where run_id = $1", done
        )
        assert steps == before["step_count"]
        # the worker's own record of the end, flushed late, changes nothing either
        late = {
            "run_id": done,
            "function_id": before["function_id"],
            "status": "completed",
            "observed_at": dt.datetime.now(dt.UTC).isoformat(),
            "steps": json.loads(before["steps"]),
        }
        await ExecutionsRepo(live.services.transport).record([late])
        final = await live.pool.fetchrow(
            "select * from inngest_function_executions where run_id = $1", done
        )
        assert final["status"] == "completed" and final["step_count"] == before["step_count"]


async def test_a_run_still_running_is_left_started(start_live: LiveFactory) -> None:
    async with start_live(cloud=True, monitoring_reconcile_after_s=60) as live:
        await live.executor.send({"name": "app/ping", "data": {"pause_s": 3000}})
        await live.executor.run_until_idle(advance_clock=False)  # asleep for 50 minutes
        await drain(live)
        [sleeper] = live.executor.runs("ping")
        await lose_the_end(live, sleeper.run_id)
        assert await reconcile(live) == {"stale": 1, "settled": 0, "open": 1, "unknown": 0}
        assert await status_of(live, sleeper.run_id) == "started"
        # it wakes and ends; once its hour is up the next reconciliation settles it
        await live.executor.run_until_idle()
        assert live.executor.run(sleeper.run_id).status == "completed"
        await drain(live)
        await lose_the_end(live, sleeper.run_id)
        assert (await reconcile(live))["stale"] == 0
        await live.pool.execute(
            "update inngest_function_executions set reconcile_after = now() - interval '1 second'"
        )
        assert await reconcile(live) == {"stale": 1, "settled": 1, "open": 0, "unknown": 0}
        assert await status_of(live, sleeper.run_id) == "completed"


async def test_the_executors_rest_api_wants_the_signing_key(start_live: LiveFactory) -> None:
    async with start_live(cloud=True) as live:
        [event_id] = await live.executor.send({"name": "app/ping", "data": {"pause_s": 0}})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("ping")
        base = live.services.settings.api_base_url
        async with httpx.AsyncClient(base_url=str(base)) as http:
            anonymous = await http.get(f"/v1/runs/{run.run_id}")
            wrong = await http.get(
                f"/v1/runs/{run.run_id}", headers={"Authorization": "Bearer signkey-test-00"}
            )
            keyed = {"Authorization": f"Bearer {SIGNING_KEY}"}
            one = await http.get(f"/v1/runs/{run.run_id}", headers=keyed)
            listed = await http.get(f"/v1/events/{event_id}/runs", headers=keyed)
            missing = await http.get("/v1/runs/nope", headers=keyed)
        assert anonymous.status_code == wrong.status_code == 401
        assert one.status_code == 200 and one.json()["data"]["status"] == "Completed"
        assert listed.json()["data"] == [one.json()["data"]]
        assert missing.status_code == 404
