"""Skills: run an AI skill on a user's message, store and record its output, notify the user,
learn from feedback which skills are going bad, and fail runs that got stuck.

`skill-execute` steps (as the seed's): mark-running, client-slug (with a client), execute-skill,
save-output, record-output, mark-completed, then `skill.execute.completed` by `step.send_event`.
Every step is idempotent: the output's key is derived from the run (an upload again replaces
the same object) and the output row is unique per run, so re-running any step after a crash
never makes a second output. A retryable provider error is raised inside `execute-skill`, so
the platform retries that step; a permanent one fails the run there and ends it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import inngest

from inngest_app.alerts import post_alert
from inngest_app.events import TerminalEvent, parse_event
from inngest_app.outbound import OutboundRefused
from inngest_app.repos.skills import Channel, NotifyContext, RunStart, SkillsRepo, Sweep
from inngest_app.services import Services
from inngest_app.skills.events import (
    FEEDBACK_PROCESS,
    FUNCTION_CANCELLED,
    SKILL_EXECUTE,
    SKILL_EXECUTE_COMPLETED,
    SKILL_EXECUTE_FAILED,
    FeedbackProcess,
    SkillExecute,
    SkillExecuteCompleted,
    execute_data,
)
from inngest_app.skills.flow import (
    CONCURRENCY_PER_USER,
    FINISH_TIMEOUT,
    IDEMPOTENCY,
    THROTTLE_BURST,
    THROTTLE_PER_MINUTE,
    execute_event_id,
    start_timeout,
)
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
from inngest_app.skills.providers import ProviderError
from inngest_app.skills.runtime import skills_runtime
from inngest_app.skills.storage import StorageError, output_key, preview_of, title_of

HEALTH_THRESHOLD = 3.0  # average score of the last 10 distinct users below this: degraded
HEALTH_WINDOW_USERS = 10
HEALTH_MIN_USERS = 3  # fewer users than this: health "unknown" (one user never decides it)
MONITOR_CRON = "*/5 * * * *"
SWEEP_LIMIT = 100
ALERT_LEASE_S = 15 * 60  # a claimed alert is another run's to post after this
ALERTS_PER_POST = 50
OUTPUT_CONTENT_TYPE = "text/markdown; charset=utf-8"


def _retry_or_fail(message: str, retry_after_s: float | None) -> Exception:
    """The exception that makes the platform retry the current step (or call, with a delay)."""
    if retry_after_s:
        return inngest.RetryAfterError(message, dt.timedelta(seconds=retry_after_s))
    return RuntimeError(message)


def build(services: Services) -> list[inngest.Function[Any]]:
    """The skills functions, bound to `services`."""
    runtime = skills_runtime(services)

    def repo() -> SkillsRepo:
        return SkillsRepo(services.transport)

    start_after = start_timeout(services.settings.skill_runs_per_hour)

    async def send_failed(ctx: inngest.Context, run_id: uuid.UUID, error: str) -> None:
        await ctx.step.send_event(
            "send-failed",
            inngest.Event(
                name=SKILL_EXECUTE_FAILED,
                data={"runId": str(run_id), "error": error, "retryable": False},
                id=f"skill-failed-{run_id}",
            ),
        )

    async def execute_failed(ctx: inngest.Context) -> dict[str, Any]:
        """After the last retry: the run is failed with the error and `skill.execute.failed` sent.
        The run id is in the original event, inside the failure event."""
        failure = parse_event(TerminalEvent, ctx.event.data, event=ctx.event.name)
        original = failure.event.get("data") or {}
        try:
            run_id = uuid.UUID(str(original.get("runId")))
        except ValueError:
            return {"skipped": "the failed run named no valid runId"}
        error = failure.error
        message = (error and (error.message or error.name)) or "unknown error"

        async def mark_failed() -> dict[str, Any] | None:
            run = await repo().fail_run(run_id, message)
            return None if run is None else run.model_dump(mode="json")

        run = await ctx.step.run("mark-failed", mark_failed)
        if run is None or run["status"] != "failed":
            return {"skipped": "no such run" if run is None else f"run is {run['status']}"}
        await send_failed(ctx, run_id, run["error"] or message)
        return {"runId": str(run_id), "status": "failed"}

    @services.inngest.create_function(
        fn_id="skill-execute-cancelled",
        name="Skills: fail a run whose execution Inngest cancelled",
        trigger=inngest.TriggerEvent(
            event=FUNCTION_CANCELLED,
            expression=f"event.data.function_id == '{services.inngest.app_id}-skill-execute'",
        ),
        retries=3,
    )
    async def execute_cancelled(ctx: inngest.Context) -> dict[str, Any]:
        """A start or finish timeout (or a cancel by hand) ends the run at once, with why."""
        cancelled = parse_event(TerminalEvent, ctx.event.data, event=FUNCTION_CANCELLED)
        original = cancelled.event.get("data") or {}
        try:
            run_id = uuid.UUID(str(original.get("runId")))
        except ValueError:
            return {"skipped": "the cancelled run named no valid runId"}

        async def mark_cancelled() -> dict[str, Any] | None:
            run = await repo().run_cancelled(
                run_id,
                cancelled.run_id,
                before=f"cancelled by Inngest before it started: not started within "
                f"{int(start_after.total_seconds())} s (timeouts.start), or cancelled by hand",
                running=f"cancelled by Inngest while running: not finished within "
                f"{int(FINISH_TIMEOUT.total_seconds())} s (timeouts.finish), or cancelled by hand",
            )
            return None if run is None else run.model_dump(mode="json")

        marked = await ctx.step.run("mark-cancelled", mark_cancelled)
        if marked is None:
            return {"skipped": "no such run"}
        run = marked["run"]
        if not marked["changed"]:
            return {"skipped": f"run is {run['status']} (not this execution's)"}
        await send_failed(ctx, run_id, run["error"])
        return {"runId": str(run_id), "status": "failed", "error": run["error"]}

    @services.inngest.create_function(
        fn_id="skill-execute",
        name="Skills: execute a skill",
        trigger=inngest.TriggerEvent(event=SKILL_EXECUTE),
        retries=3,
        # the seed's "max 10 concurrent per user" meant both a rate and a concurrency limit
        throttle=inngest.Throttle(
            limit=THROTTLE_PER_MINUTE,
            period=dt.timedelta(minutes=1),
            key="event.data.userId",
            burst=THROTTLE_BURST,
        ),
        concurrency=[inngest.Concurrency(limit=CONCURRENCY_PER_USER, key="event.data.userId")],
        timeouts=inngest.Timeouts(start=start_after, finish=FINISH_TIMEOUT),
        idempotency=IDEMPOTENCY,
        on_failure=execute_failed,
    )
    async def skill_execute(ctx: inngest.Context) -> dict[str, Any]:
        data = parse_event(SkillExecute, ctx.event.data, event=SKILL_EXECUTE)
        skill = runtime.active_skill(data.skill_name)
        if skill is None:
            raise inngest.NonRetriableError(
                f"skillName: unknown or inactive skill {data.skill_name!r}"
            )

        async def mark_running() -> dict[str, Any] | None:
            started = await repo().start_run(data.run_id, ctx.run_id)
            return None if started is None else started.model_dump(mode="json")

        started = await ctx.step.run("mark-running", mark_running)
        if started is None:
            ctx.logger.warning("skill.execute for unknown run %s: nothing to do", data.run_id)
            return {"status": "skipped", "reason": "no such run"}
        start = RunStart.model_validate(started)
        run = start.run
        if not start.started:
            return {"status": "skipped", "reason": f"run is {run.status} (not this run's)"}
        if run.skill_name != skill.name or run.user_id != data.user_id:
            raise inngest.NonRetriableError("skillName/userId: do not match the stored run")

        client_name = client_slug = None
        if run.client_id is not None:
            client_id = run.client_id

            async def get_client_slug() -> dict[str, Any] | None:
                found = await repo().client(client_id, run.user_id)
                return None if found is None else found.model_dump(mode="json")

            client = await ctx.step.run("client-slug", get_client_slug)
            if client is not None:
                client_name, client_slug = client["name"], client["slug"]
        day = (run.started_at or run.created_at).date().isoformat()

        async def execute_skill() -> dict[str, Any]:
            prompt = skill.render(
                message=run.user_message, date=day, client=client_name, options=run.options
            )
            try:
                completion = await runtime.provider.complete(
                    skill=skill,
                    model=runtime.model_for(skill),
                    prompt=prompt,
                    max_tokens=runtime.max_tokens_for(skill),
                )
            except ProviderError as exc:
                if exc.retryable:
                    raise _retry_or_fail(str(exc), exc.retry_after_s) from None
                await repo().fail_run(run.id, str(exc))
                raise inngest.NonRetriableError(str(exc)) from None
            return completion.as_dict()

        completion = await ctx.step.run("execute-skill", execute_skill)
        text: str = completion["text"]

        async def save_output() -> dict[str, Any]:
            key = output_key(run.id, skill=skill.name, day=day, client_slug=client_slug)
            body = text.encode()
            try:
                await runtime.storage.put(key, body, content_type=OUTPUT_CONTENT_TYPE)
            except StorageError as exc:
                if exc.retryable:
                    raise RuntimeError(str(exc)) from None
                raise inngest.NonRetriableError(str(exc)) from None
            return {"key": key, "size_bytes": len(body)}

        saved = await ctx.step.run("save-output", save_output)

        async def record_output() -> dict[str, Any]:
            output = await repo().record_output(
                run_id=run.id,
                storage_key=saved["key"],
                format="markdown",
                title=title_of(text, fallback=f"{skill.name} {day}"),
                preview=preview_of(text),
                size_bytes=saved["size_bytes"],
            )
            return output.model_dump(mode="json")

        output = await ctx.step.run("record-output", record_output)

        async def mark_completed() -> bool:
            done = await repo().complete_run(
                run.id,
                ctx.run_id,
                tokens_in=completion["tokens_in"],
                tokens_out=completion["tokens_out"],
            )
            return done is not None

        if not await ctx.step.run("mark-completed", mark_completed):
            return {"status": "skipped", "reason": "the run was failed meanwhile"}
        await ctx.step.send_event(
            "send-completed",
            inngest.Event(
                name=SKILL_EXECUTE_COMPLETED,
                data={"runId": str(run.id), "outputId": output["id"], "s3Key": saved["key"]},
                id=f"skill-completed-{run.id}",
            ),
        )
        return {"status": "completed", "runId": str(run.id), "outputId": output["id"]}

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
            raise _retry_or_fail(str(exc), exc.retry_after_s) from None

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

    @services.inngest.create_function(
        fn_id="feedback-process",
        name="Skills: update skill health from feedback",
        trigger=inngest.TriggerEvent(event=FEEDBACK_PROCESS),
        retries=2,
    )
    async def feedback_process(ctx: inngest.Context) -> dict[str, Any]:
        data = parse_event(FeedbackProcess, ctx.event.data, event=FEEDBACK_PROCESS)

        async def update_metrics() -> dict[str, Any] | None:
            applied = await repo().apply_feedback(
                data.feedback_id,
                data.skill_name,
                threshold=HEALTH_THRESHOLD,
                claimant=ctx.run_id,
                window=HEALTH_WINDOW_USERS,
                min_users=HEALTH_MIN_USERS,
                lease_s=ALERT_LEASE_S,
            )
            return None if applied is None else applied.model_dump(mode="json")

        applied = await ctx.step.run("update-metrics", update_metrics)
        if applied is None:
            return {"skipped": "no such feedback"}
        if applied["error"] == "skill_mismatch":
            raise inngest.NonRetriableError(
                f"skillName: the feedback is on skill {applied['skill_name']!r}"
            )
        alert = applied["alert"]
        if alert is not None:
            await post_claimed(ctx, [alert], text=alert["message"], step="post-alert")
        return {"metrics": applied["metrics"], "alert": alert}

    async def post_claimed(
        ctx: inngest.Context, alerts: list[dict[str, Any]], *, text: str, step: str
    ) -> int:
        """Post alerts this run claimed and mark them notified; after a failed delivery the
        claims are released (the next monitor run posts them) and this run fails."""
        url = services.settings.alert_webhook_url
        if not alerts or not url:
            return 0
        ids = [a["id"] for a in alerts]

        async def post() -> int:
            payload: dict[str, Any] = {"text": text, "alerts": alerts}
            if len(alerts) == 1:
                payload["alert"] = alerts[0]
            await post_alert(services.http, url, payload)
            return await repo().mark_alerts_notified(ids)

        try:
            return int(await ctx.step.run(step, post))
        except inngest.StepError as exc:

            async def release() -> int:
                return await repo().release_alerts(claimant=ctx.run_id, alert_ids=ids)

            await ctx.step.run("release-alerts", release)
            raise inngest.NonRetriableError(
                f"alert delivery failed ({exc.message}); released for the next monitor run"
            ) from None

    @services.inngest.create_function(
        fn_id="monitor-executions",
        name="Skills: fail and re-send stuck runs",
        trigger=inngest.TriggerCron(cron=MONITOR_CRON),
        retries=1,
    )
    async def monitor_executions(ctx: inngest.Context) -> dict[str, Any]:
        async def sweep() -> dict[str, Any]:
            swept = await repo().sweep(
                start_timeout_s=int(start_after.total_seconds()),
                finish_timeout_s=int(FINISH_TIMEOUT.total_seconds()),
                limit=SWEEP_LIMIT,
                claimant=ctx.run_id,
            )
            return swept.model_dump(mode="json")

        swept = Sweep.model_validate(await ctx.step.run("sweep", sweep))
        if swept.resend:
            await ctx.step.send_event(
                "resend-queued",
                [
                    inngest.Event(
                        name=SKILL_EXECUTE,
                        data=execute_data(
                            run_id=r.id,
                            skill_name=r.skill_name,
                            user_message=r.user_message,
                            user_id=r.user_id,
                            client_id=r.client_id,
                            options=r.options,
                            resend=r.resends,
                        ),
                        id=execute_event_id(r.id, r.resends),
                    )
                    for r in swept.resend
                ],
            )
        alerted = 0
        if services.settings.alert_webhook_url:

            async def claim() -> list[dict[str, Any]]:
                claimed = await repo().claim_alerts(
                    claimant=ctx.run_id, lease_s=ALERT_LEASE_S, limit=ALERTS_PER_POST
                )
                return [a.model_dump(mode="json") for a in claimed]

            alerts = await ctx.step.run("claim-alerts", claim)
            text = "skill alerts: " + "; ".join(a["message"] for a in alerts)
            alerted = await post_claimed(ctx, alerts, text=text, step="post-alerts")
        return {
            "timedOut": len(swept.timed_out),
            "resent": len(swept.resend),
            "failedQueued": len(swept.never_started),
            "alerted": alerted,
        }

    return [
        skill_execute,
        execute_cancelled,
        notify_completion,
        feedback_process,
        monitor_executions,
    ]


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
