"""Small served functions and helpers the executor's tests share."""

from __future__ import annotations

from typing import Any

import inngest

from inngest_app.testing import TestExecutor
from tests.testing.support import (
    Functions,
    count,
)


def echo_app(client: inngest.Inngest) -> Functions:
    """`echo` on `t/echo`: one step returning the event's data."""

    @client.create_function(fn_id="echo", trigger=inngest.TriggerEvent(event="t/echo"))
    async def echo(ctx: inngest.Context) -> Any:
        step = await ctx.step.run("step", lambda: dict(ctx.event.data))
        return {"step": step, "run_id": ctx.run_id}

    return [echo]


def flaky_app(client: inngest.Inngest) -> Functions:
    """`flaky` on `t/flaky`: its step fails twice, then returns 3 (up to 3 retries)."""
    calls: dict[str, int] = {}

    @client.create_function(fn_id="flaky", trigger=inngest.TriggerEvent(event="t/flaky"), retries=3)
    async def flaky(ctx: inngest.Context) -> int:
        async def call() -> int:
            if count(calls, "call") < 3:
                raise RuntimeError(f"attempt {calls['call']} failed")
            return calls["call"]

        return await ctx.step.run("call", call)

    return [flaky]


FAILURES: list[dict[str, Any]] = []  # what `failing_app`'s failure handler saw


def failing_app(client: inngest.Inngest) -> Functions:
    """`doomed` on `t/doomed`: its step always fails; its failure handler records the event
    in `FAILURES`."""

    async def record(ctx: inngest.Context) -> str:
        FAILURES.append(dict(ctx.event.data))
        return "noted"

    @client.create_function(
        fn_id="doomed",
        trigger=inngest.TriggerEvent(event="t/doomed"),
        retries=1,
        on_failure=record,
    )
    async def doomed(ctx: inngest.Context) -> None:
        async def call() -> None:
            raise RuntimeError("upstream is down")

        await ctx.step.run("call", call)

    return [doomed]


def registration(fn_id: str, url: str, event: str) -> dict[str, Any]:
    """A registration of one function, as if an app named after the function had synced."""
    return {
        "appname": f"{fn_id}-app",
        "functions": [
            {
                "id": fn_id,
                "name": fn_id,
                "triggers": [{"event": event}],
                "steps": {"step": {"id": "step", "name": "step", "runtime": {"url": url}}},
            }
        ],
    }


async def settle(executor: TestExecutor) -> list[Any]:
    """Every run, once nothing is left to do."""
    await executor.run_until_idle()
    return executor.runs()
