"""Families at their documented maxima stay within the platform limits the executor enforces.

Queries have their own journeys (`tests/functions/test_query_handover.py`); GitHub and the
workspaces are issue #20's. Here: skills' notify-completion at the channel cap, with the step
limit lowered to exactly what the cap allows, so one more step a run would fail it.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from inngest_app.testing.limits import Limits
from tests.harness import LiveFactory
from tests.skills.support import (
    ANTHROPIC_URL,
    BOT_TOKEN,
    TELEGRAM_URL,
    USER,
    answer,
    message_ok,
    run_row,
    skill_settings,
    start_run,
)

MAX_CHANNELS = 20  # skill_notify_context takes a user's first 20 channels
# skill-execute's steps with a client-less run: mark-running, execute-skill, save-output,
# record-output, mark-completed, and the send of skill.execute.completed
SKILL_EXECUTE_STEPS = 6


async def test_notify_completion_at_the_channel_cap_fits_a_tight_step_limit(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    limit = 1 + MAX_CHANNELS  # load-run, then one step a channel
    async with start_live(
        limits=Limits(max_steps=limit), **skill_settings(tmp_path, telegram_bot_token=BOT_TOKEN)
    ) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        for i in range(MAX_CHANNELS + 5):  # more than the cap
            await live.pool.fetchval(
                "select skill_channel_upsert($1, 'telegram', $2) ->> 'id'", USER, str(1000 + i)
            )
        chats: list[str] = []

        def telegram(request: httpx.Request) -> httpx.Response:
            chats.append(json.loads(request.content)["chat_id"])
            return answer(200, "telegram.sendMessage.ok.json")

        live.mock.post(TELEGRAM_URL).mock(side_effect=telegram)
        run_id = await start_run(live)
        await live.executor.run_until_idle()
        assert (await run_row(live, run_id))["status"] == "completed"
        [execute] = live.executor.runs("skill-execute")
        assert execute.status == "completed", execute.error
        assert len(execute.steps) <= SKILL_EXECUTE_STEPS
        [notify] = live.executor.runs("notify-completion")
        assert notify.status == "completed", notify.error
        assert len(notify.steps) == limit
        assert notify.output["sent"] == MAX_CHANNELS
        assert sorted(chats) == [str(1000 + i) for i in range(MAX_CHANNELS)]
        assert [r for r in live.executor.runs() if r.status == "failed"] == []
