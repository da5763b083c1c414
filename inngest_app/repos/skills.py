"""Skills, clients, runs, outputs, feedback, metrics, channels and skill alerts: every data
operation of the skills family, one SQL function each (the rows are in `repos.skills_rows`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from inngest_app.repos.skills_rows import (
    Channel,
    Client,
    Feedback,
    FeedbackApplied,
    Metrics,
    NotifyContext,
    Output,
    RunCancelled,
    RunCreated,
    RunStart,
    RunStatus,
    SkillAlert,
    SkillRun,
    Sweep,
)
from inngest_app.skills.library import Skill
from inngest_app.store import Transport

__all__ = [
    "Channel",
    "Client",
    "Feedback",
    "FeedbackApplied",
    "Metrics",
    "NotifyContext",
    "Output",
    "RunCancelled",
    "RunCreated",
    "RunStart",
    "RunStatus",
    "SkillAlert",
    "SkillRun",
    "SkillsRepo",
    "Sweep",
]


class SkillsRepo:
    """Every data operation of the skills family, each one SQL function (one transaction)."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    async def sync_skills(self, skills: Sequence[Skill]) -> dict[str, int]:
        """Upsert the shipped skills; deactivate the ones no longer shipped."""
        rows = [
            {
                "name": s.name,
                "description": s.description,
                "model": s.model,
                "prompt_template": s.prompt_template,
                "active": s.active,
            }
            for s in skills
        ]
        return dict(await self._t.call("skills_sync", {"p_skills": rows}))

    async def upsert_client(self, *, owner_id: str, slug: str, name: str) -> Client:
        """A client of `owner_id` (created, or renamed)."""
        args = {"p_owner_id": owner_id, "p_slug": slug, "p_name": name}
        return Client.model_validate(await self._t.call("skill_client_upsert", args))

    async def client(self, client_id: uuid.UUID, owner_id: str) -> Client | None:
        """The client if it is `owner_id`'s."""
        row = await self._t.call("skill_client_get", {"p_id": client_id, "p_owner_id": owner_id})
        return None if row is None else Client.model_validate(row)

    async def upsert_channel(self, *, user_id: str, channel: str, target: str) -> Channel:
        """A notification channel of `user_id`."""
        args = {"p_user_id": user_id, "p_channel": channel, "p_target": target}
        return Channel.model_validate(await self._t.call("skill_channel_upsert", args))

    async def create_run(
        self,
        *,
        user_id: str,
        skill_name: str,
        client_id: uuid.UUID | None,
        message: str,
        options: dict[str, Any],
        max_per_hour: int,
    ) -> RunCreated:
        """A queued run, unless the skill, client or hourly allowance says no."""
        args = {
            "p_user_id": user_id,
            "p_skill_name": skill_name,
            "p_client_id": client_id,
            "p_message": message,
            "p_options": options,
            "p_max_per_hour": max_per_hour,
        }
        return RunCreated.model_validate(await self._t.call("skill_run_create", args))

    async def get_run(self, run_id: uuid.UUID) -> SkillRun | None:
        """The run, or None."""
        row = await self._t.call("skill_run_get", {"p_id": run_id})
        return None if row is None else SkillRun.model_validate(row)

    async def start_run(self, run_id: uuid.UUID, inngest_run_id: str) -> RunStart | None:
        """queued → running for this Inngest run; None when there is no such run."""
        args = {"p_id": run_id, "p_inngest_run_id": inngest_run_id}
        row = await self._t.call("skill_run_start", args)
        return None if row is None else RunStart.model_validate(row)

    async def record_output(
        self,
        *,
        run_id: uuid.UUID,
        storage_key: str,
        format: str,
        title: str,
        preview: str,
        size_bytes: int,
    ) -> Output:
        """The run's output row (the first one, if a retried step records it again)."""
        args = {
            "p_run_id": run_id,
            "p_storage_key": storage_key,
            "p_format": format,
            "p_title": title,
            "p_preview": preview,
            "p_size_bytes": size_bytes,
        }
        return Output.model_validate(await self._t.call("skill_output_record", args))

    async def complete_run(
        self, run_id: uuid.UUID, inngest_run_id: str, *, tokens_in: int, tokens_out: int
    ) -> SkillRun | None:
        """Mark completed with its token counts (only while this Inngest run holds it)."""
        args = {
            "p_id": run_id,
            "p_inngest_run_id": inngest_run_id,
            "p_tokens_in": tokens_in,
            "p_tokens_out": tokens_out,
        }
        row = await self._t.call("skill_run_complete", args)
        return None if row is None else SkillRun.model_validate(row)

    async def fail_run(self, run_id: uuid.UUID, error: str) -> SkillRun | None:
        """Fail an unfinished run (a finished one comes back unchanged); None if unknown."""
        row = await self._t.call("skill_run_fail", {"p_id": run_id, "p_error": error})
        return None if row is None else SkillRun.model_validate(row)

    async def get_output(self, output_id: uuid.UUID) -> Output | None:
        """The output record, or None."""
        row = await self._t.call("skill_output_get", {"p_id": output_id})
        return None if row is None else Output.model_validate(row)

    async def notify_context(self, run_id: uuid.UUID) -> NotifyContext | None:
        """The run, its output and its user's channels; None if unknown."""
        row = await self._t.call("skill_notify_context", {"p_run_id": run_id})
        return None if row is None else NotifyContext.model_validate(row)

    async def create_feedback(
        self,
        *,
        output_id: uuid.UUID,
        user_id: str,
        overall: int,
        accuracy: int | None,
        quality: int | None,
        issues: list[str],
        comment: str | None,
    ) -> Feedback | None:
        """Store feedback on an output; None if the output is unknown."""
        args = {
            "p_output_id": output_id,
            "p_user_id": user_id,
            "p_overall": overall,
            "p_accuracy": accuracy,
            "p_quality": quality,
            "p_issues": issues,
            "p_comment": comment,
        }
        row = await self._t.call("skill_feedback_create", args)
        return None if row is None else Feedback.model_validate(row)

    async def apply_feedback(
        self,
        feedback_id: uuid.UUID,
        skill_name: str,
        *,
        threshold: float,
        claimant: str,
        window: int,
        min_users: int,
        lease_s: int,
    ) -> FeedbackApplied | None:
        """Recompute the skill's health over its last `window` distinct users (`min_users` at
        least); None if the feedback is unknown. An un-notified alert comes back to one
        `claimant` (an Inngest run id: its retries get it again) for `lease_s`."""
        args = {
            "p_feedback_id": feedback_id,
            "p_skill_name": skill_name,
            "p_threshold": Decimal(str(threshold)),
            "p_claimant": claimant,
            "p_window": window,
            "p_min_users": min_users,
            "p_lease_s": lease_s,
        }
        row = await self._t.call("skill_feedback_apply", args)
        return None if row is None else FeedbackApplied.model_validate(row)

    async def metrics(self, skill_name: str) -> dict[str, Any] | None:
        """The skill's metrics row, or None."""
        row = await self._t.call("skill_metrics_get", {"p_skill_name": skill_name})
        return None if row is None else dict(row)

    async def mark_alerts_notified(self, alert_ids: Sequence[int]) -> int:
        """Mark alerts as posted; how many were newly marked."""
        return int(await self._t.call("skill_alerts_mark_notified", {"p_ids": list(alert_ids)}))

    async def sweep(
        self, *, start_timeout_s: int, finish_timeout_s: int, limit: int, claimant: str
    ) -> Sweep:
        """Fail or re-send stuck runs (see the SQL function); a retry by the same `claimant`
        gets the first attempt's answer."""
        args = {
            "p_start_timeout_s": start_timeout_s,
            "p_finish_timeout_s": finish_timeout_s,
            "p_limit": limit,
            "p_claimant": claimant,
        }
        return Sweep.model_validate(await self._t.call("skill_runs_sweep", args))

    async def run_cancelled(
        self, run_id: uuid.UUID, inngest_run_id: str, *, before: str, running: str
    ) -> RunCancelled | None:
        """Fail the run an execution of which Inngest cancelled, with `before` (nobody started
        it) or `running` (that execution held it); anyone else's or a finished run stays."""
        args = {
            "p_id": run_id,
            "p_inngest_run_id": inngest_run_id,
            "p_before": before,
            "p_running": running,
        }
        row = await self._t.call("skill_run_cancelled", args)
        return None if row is None else RunCancelled.model_validate(row)

    async def claim_alerts(self, *, claimant: str, lease_s: int, limit: int) -> list[SkillAlert]:
        """Un-notified alerts for `claimant` to post (free, its own, or with an expired claim)."""
        args = {"p_claimant": claimant, "p_lease_s": lease_s, "p_limit": limit}
        rows = await self._t.call("skill_alerts_claim", args)
        return [SkillAlert.model_validate(r) for r in rows]

    async def release_alerts(self, *, claimant: str, alert_ids: Sequence[int]) -> int:
        """After a failed delivery: free `claimant`'s claims, for the next run to post."""
        args = {"p_claimant": claimant, "p_ids": list(alert_ids)}
        return int(await self._t.call("skill_alerts_release", args))
