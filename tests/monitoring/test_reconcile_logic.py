"""The pure half of reconciliation: which REST answers end a row, and when."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import respx

from inngest_app.monitoring.reconcile import InngestRuns, RunState, StaleRow, final_observation

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.UTC)
ROW = StaleRow(run_id="01RUN", function_id="app-fn", started_at=NOW - dt.timedelta(hours=2))


@pytest.mark.parametrize(
    ("status", "final"),
    [("Completed", "completed"), ("Failed", "failed"), ("Cancelled", "cancelled")],
)
def test_a_finished_run_ends_the_row(status: str, final: str) -> None:
    ended = (NOW - dt.timedelta(hours=1)).timestamp()
    observation = final_observation(
        ROW, RunState(status=status, output={"message": "boom"}, ended_at=ended), now=NOW
    )
    assert observation is not None
    assert observation["status"] == final and observation["steps"] == {}
    assert observation["observed_at"] == (NOW - dt.timedelta(hours=1)).isoformat()
    assert observation["error_message"] == (None if final == "completed" else "boom")


@pytest.mark.parametrize("status", ["Running", "Queued", "Skipped", "Whatever"])
def test_a_run_not_known_to_have_ended_leaves_the_row(status: str) -> None:
    assert final_observation(ROW, RunState(status=status), now=NOW) is None
    assert final_observation(ROW, None, now=NOW) is None


@pytest.mark.parametrize(
    "ended_at",
    [None, "not a time", "2026-12-04T09:00:00", (NOW + dt.timedelta(days=1)).timestamp(), 1e20],
)
def test_an_implausible_end_time_is_now(ended_at: object) -> None:
    state = RunState.model_validate({"status": "Completed", "ended_at": ended_at})
    observation = final_observation(ROW, state, now=NOW)
    assert observation is not None and observation["observed_at"] == NOW.isoformat()


def test_an_iso_end_time_is_taken() -> None:
    state = RunState(status="Failed", ended_at="2026-12-04T11:30:00Z")
    observation = final_observation(ROW, state, now=NOW)
    assert observation is not None
    assert observation["observed_at"] == "2026-12-04T11:30:00+00:00"
    assert "reconciled" in observation["error_message"]


async def test_the_client_sends_the_signing_key_and_reads_404_as_unknown() -> None:
    with respx.mock(assert_all_called=True) as mock:
        known = mock.get("https://api.inngest.test/v1/runs/01A").mock(
            return_value=httpx.Response(200, json={"data": {"status": "Completed"}})
        )
        mock.get("https://api.inngest.test/v1/runs/01B").mock(return_value=httpx.Response(404))
        mock.get("https://api.inngest.test/v1/runs/01C").mock(return_value=httpx.Response(500))
        async with httpx.AsyncClient() as http:
            runs = InngestRuns(http, api_url="https://api.inngest.test/", signing_key="signkey-x")
            states = await runs.runs(["01A", "01B"])
            with pytest.raises(RuntimeError, match="500"):
                await runs.run("01C")
        assert states["01B"] is None and states["01A"] is not None
        assert states["01A"].status == "Completed"
        assert known.calls.last.request.headers["authorization"] == "Bearer signkey-x"
