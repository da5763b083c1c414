"""`notify-completion`: tell the user a run finished, on each of their channels (one step per
channel row: a failing channel never stops the others). Telegram's URL holds the bot token:
no error or step output here carries it."""

from __future__ import annotations

from typing import Any

import httpx
import inngest

from functions.skills.execute import retry_later
from inngest_app.events import parse_event
from inngest_app.outbound import OutboundRefused
from inngest_app.repos.skills import Channel, NotifyContext, SkillsRepo
from inngest_app.services import Services
from inngest_app.skills.events import SKILL_EXECUTE_COMPLETED, SkillExecuteCompleted
from inngest_app.skills.notify import (
    WEBHOOK_DEADLINE_S,
    WEBHOOK_MAX_BYTES,
    Delivery,
    NotifyError,
    TelegramClient,
    completion_text,
    webhook_outcome,
    webhook_payload,
)


def build(services: Services) -> list[inngest.Function[Any]]:
    """`notify-completion`, bound to `services`."""

    def repo() -> SkillsRepo:
        return SkillsRepo(services.transport)

    async def deliver(channel: Channel, context: NotifyContext) -> dict[str, Any]:
        output = context.output
        assert output is not None  # noqa: S101 (checked by the caller)
        text = completion_text(
            skill=context.run.skill_name,
            title=output.title,
            preview=output.preview,
            output_id=str(output.id),
        )
        try:
            if channel.channel == "telegram":
                token = services.settings.telegram_bot_token
                if token is None:
                    return Delivery(ok=False, detail="TELEGRAM_BOT_TOKEN is not set").as_dict()
                telegram = TelegramClient(
                    services.http,
                    token.get_secret_value(),
                    api_url=services.settings.telegram_api_url,
                )
                return (await telegram.send_message(channel.target, text)).as_dict()
            return (await _post_webhook(services, channel.target, text, context)).as_dict()
        except NotifyError as exc:
            raise retry_later(str(exc), exc.retry_after_s) from None

    @services.inngest.create_function(
        fn_id="notify-completion",
        name="Skills: notify the user of a completed run",
        trigger=inngest.TriggerEvent(event=SKILL_EXECUTE_COMPLETED),
        retries=3,
    )
    async def notify_completion(ctx: inngest.Context) -> dict[str, Any]:
        data = parse_event(SkillExecuteCompleted, ctx.event.data, event=SKILL_EXECUTE_COMPLETED)

        async def load() -> dict[str, Any] | None:
            found = await repo().notify_context(data.run_id)
            return None if found is None else found.model_dump(mode="json")

        loaded = await ctx.step.run("load-run", load)
        if loaded is None:
            return {"skipped": "no such run"}
        context = NotifyContext.model_validate(loaded)
        if context.output is None or context.run.status != "completed":
            return {"skipped": f"run is {context.run.status} without an output"}
        outcomes: dict[str, Any] = {}
        for channel in context.channels:
            # one step per channel row: two channels of one kind never share a step id
            step_id = f"notify-{channel.channel}-{channel.id}"
            try:
                outcomes[step_id] = await ctx.step.run(step_id, deliver, channel, context)
            except inngest.StepError as exc:  # retries spent: the other channels go on
                outcomes[step_id] = {"ok": False, "detail": f"gave up: {exc.message}"}
        sent = sum(1 for o in outcomes.values() if o["ok"])
        return {"channels": len(outcomes), "sent": sent, "outcomes": outcomes}

    return [notify_completion]


async def _post_webhook(
    services: Services, url: str, text: str, context: NotifyContext
) -> Delivery:
    """POST to the user's webhook through the guarded client, never to a private address (even
    when queries may reach private networks); a refused URL is a final outcome, not a retry."""
    output = context.output
    assert output is not None  # noqa: S101 (checked by the caller)
    payload = webhook_payload(
        text=text,
        run_id=str(context.run.id),
        output_id=str(output.id),
        skill=context.run.skill_name,
    )
    try:
        response = await services.outbound.request(
            "POST",
            url,
            json=payload,
            max_bytes=WEBHOOK_MAX_BYTES,
            deadline_s=WEBHOOK_DEADLINE_S,
            allow_private=services.settings.skill_webhooks_allow_private,
        )
    except OutboundRefused as exc:
        return Delivery(ok=False, detail=f"webhook refused ({exc.code}): {exc.message}")
    except httpx.TransportError as exc:
        raise NotifyError(f"webhook unreachable: {type(exc).__name__}") from None
    return webhook_outcome(response.status_code)
