"""`skill-execute` and how its runs end: the failure handler (after the last retry) and
`skill-execute-cancelled` (Inngest cancelled an execution: a timeout, or by hand).

`skill-execute` steps (as the seed's): mark-running, client-slug (with a client), execute-skill,
save-output, record-output, mark-completed, then `skill.execute.completed` by `step.send_event`.
Every step is idempotent: the output's key is derived from the run (an upload again replaces
the same object) and the output row is unique per run, so re-running any step after a crash
never makes a second output. A retryable provider error is raised inside `execute-skill`, so
the platform retries that step; a permanent one fails the run there and ends it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import inngest

from functions.skills import endings
from inngest_app.events import parse_event
from inngest_app.repos.skills import RunStart, SkillsRepo
from inngest_app.services import Services
from inngest_app.skills import flow
from inngest_app.skills.events import (
    FUNCTION_CANCELLED,
    SKILL_EXECUTE,
    SKILL_EXECUTE_COMPLETED,
    SkillExecute,
)
from inngest_app.skills.flow import FINISH_TIMEOUT, IDEMPOTENCY, start_timeout
from inngest_app.skills.providers import ProviderError
from inngest_app.skills.runtime import skills_runtime
from inngest_app.skills.storage import StorageError, output_key, preview_of, title_of

OUTPUT_CONTENT_TYPE = "text/markdown; charset=utf-8"


def retry_later(message: str, retry_after_s: float | None) -> Exception:
    """The exception that makes the platform retry the current step (or call, with a delay)."""
    if retry_after_s:
        return inngest.RetryAfterError(message, dt.timedelta(seconds=retry_after_s))
    return RuntimeError(message)


def build(services: Services) -> list[inngest.Function[Any]]:
    """`skill-execute`, its failure handler and `skill-execute-cancelled`, bound to `services`."""
    runtime = skills_runtime(services)

    def repo() -> SkillsRepo:
        return SkillsRepo(services.transport)

    start_after = start_timeout(services.settings.skill_runs_per_hour)

    async def execute_failed(ctx: inngest.Context) -> dict[str, Any]:
        return await endings.failed_handler(ctx, repo=repo())

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
        return await endings.cancelled_handler(ctx, repo=repo(), start_after=start_after)

    @services.inngest.create_function(
        fn_id="skill-execute",
        name="Skills: execute a skill",
        trigger=inngest.TriggerEvent(event=SKILL_EXECUTE),
        retries=3,
        # the seed's "max 10 concurrent per user" meant both a rate and a concurrency limit
        throttle=inngest.Throttle(
            limit=flow.THROTTLE_PER_MINUTE,
            period=dt.timedelta(minutes=1),
            key="event.data.userId",
            burst=flow.THROTTLE_BURST,
        ),
        concurrency=[inngest.Concurrency(limit=flow.CONCURRENCY_PER_USER, key="event.data.userId")],
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
                    raise retry_later(str(exc), exc.retry_after_s) from None
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

    return [skill_execute, execute_cancelled]
