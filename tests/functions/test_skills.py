"""The skills family end to end: API → test executor → functions → Postgres, output storage and
notifications, with respx at the Anthropic, OpenAI-compatible, Telegram and Storage edges."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from functions import skills
from inngest_app.client import build_client
from inngest_app.services import Services
from inngest_app.settings import Settings
from inngest_app.skills.providers import TEMPLATE_NOTICE
from tests.harness import Live, LiveFactory
from tests.skills.support import (
    ANTHROPIC_URL,
    BOT_TOKEN,
    OPENAI_BASE,
    SUPABASE_ISSUER,
    SUPABASE_URL,
    TELEGRAM_URL,
    USER,
    answer,
    fixture,
    flush_monitoring,
    message_ok,
    overloaded,
    run_row,
    skill_settings,
    start_run,
    token,
)


def events(live: Live, name: str) -> list[dict[str, Any]]:
    return [e for e in live.executor.events if e["name"] == name]


async def add_channel(live: Live, channel: str, target: str, user: str = USER) -> None:
    await live.pool.execute("select skill_channel_upsert($1, $2, $3)", user, channel, target)


async def test_happy_path_stores_records_notifies_and_is_monitored(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path, telegram_bot_token=BOT_TOKEN)) as live:
        llm = live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        telegram = live.mock.post(TELEGRAM_URL).mock(
            return_value=answer(200, "telegram.sendMessage.ok.json")
        )
        await add_channel(live, "telegram", "123456789")
        run_id = await start_run(live)
        await live.executor.run_until_idle()

        [run] = live.executor.runs("skill-execute")
        assert run.status == "completed", run.error
        assert run.step_names() == [
            "mark-running",
            "execute-skill",
            "save-output",
            "record-output",
            "mark-completed",
            "send-completed",
        ]
        row = await run_row(live, run_id)
        assert row["status"] == "completed"
        assert (row["tokens_in"], row["tokens_out"]) == (412, 187)
        outputs = await live.pool.fetch("select * from outputs where run_id = $1", row["id"])
        assert len(outputs) == 1
        output = outputs[0]
        assert output["title"] == "Spring launch: Acme Trail Shoes"
        day = row["started_at"].date().isoformat()
        assert output["storage_key"] == f"{run_id}/output-marketing-brief-{day}.md"
        stored = (tmp_path / "outputs" / output["storage_key"]).read_text()
        assert stored == fixture("anthropic.message.json")["content"][0]["text"]
        assert output["size_bytes"] == len(stored.encode())

        sent = json.loads(llm.calls.last.request.content)
        assert sent["model"] == "claude-sonnet-4-5" and sent["max_tokens"] == 2048
        assert "Launch our trail shoes" in sent["messages"][0]["content"]
        assert "senior marketing strategist" in sent["system"]
        assert llm.calls.last.request.headers["x-stainless-retry-count"] == "0"

        [completed] = events(live, "skill.execute.completed")
        assert completed["data"] == {
            "runId": run_id,
            "outputId": str(output["id"]),
            "s3Key": output["storage_key"],
        }
        [notify] = live.executor.runs("notify-completion")
        assert notify.status == "completed", notify.error
        assert notify.output["sent"] == 1
        assert telegram.call_count == 1
        message = json.loads(telegram.calls.last.request.content)
        assert message["chat_id"] == "123456789"
        assert "Spring launch: Acme Trail Shoes" in message["text"]

        await flush_monitoring(live)
        record = await live.pool.fetchrow(
            "select * from inngest_function_executions where run_id = $1", run.run_id
        )
        assert record is not None and record["status"] == "completed"
        assert record["user_id"] == USER and record["execution_id"] == run_id
        assert record["step_count"] == 5 and record["other_step_count"] == 1  # + the send
        stats = await live.api.get(
            "/api/inngest/monitoring",
            params={"functionId": "inngest-app-skill-execute"},
            headers=token(),
        )
        assert stats.status_code == 200, stats.text
        body = stats.json()
        assert body["totalExecutions"] == 1
        assert body["totalSteps"] == 5  # step.run steps, the seed's meaning
        assert body["billedSteps"] == 6  # every step billed
        assert float(body["estimatedCostUsd"]) == pytest.approx(6 * 0.0001)

        status = await live.api.get(f"/api/runs/{run_id}", headers=token())
        assert status.status_code == 200
        assert status.json()["status"] == "completed"
        assert status.json()["outputId"] == str(output["id"])
        read = await live.api.get(f"/api/outputs/{output['id']}", headers=token())
        assert read.status_code == 200 and read.json()["content"] == stored


async def test_a_client_names_the_output_and_the_prompt(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        llm = live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        client_id = await live.pool.fetchval(
            "select (skill_client_upsert($1, 'acme', 'Acme Outdoor') ->> 'id')::uuid", USER
        )
        run_id = await start_run(live, clientId=str(client_id), options={"tone": "bold"})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("skill-execute")
        assert run.status == "completed", run.error
        assert "client-slug" in run.step_names()
        prompt = json.loads(llm.calls.last.request.content)["messages"][0]["content"]
        assert "marketing brief for Acme Outdoor" in prompt and "Tone: bold." in prompt
        key = await live.pool.fetchval("select storage_key from outputs")
        assert key.startswith(f"{run_id}/acme-marketing-brief-") and key.endswith(".md")


async def test_overloaded_twice_then_success_completes_on_attempt_three(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        llm = live.mock.post(ANTHROPIC_URL).mock(
            side_effect=[overloaded(), overloaded(), message_ok()]
        )
        run_id = await start_run(live)
        await live.executor.run_until_idle()
        [run] = live.executor.runs("skill-execute")
        assert run.status == "completed", run.error
        attempts = [r.attempt for r in run.step_log if r.name == "execute-skill"]
        assert attempts == [0, 1, 2]
        assert llm.call_count == 3
        assert (await run_row(live, run_id))["status"] == "completed"
        assert await live.pool.fetchval("select count(*) from outputs") == 1


async def test_bad_request_fails_at_once_with_the_message_stored(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        llm = live.mock.post(ANTHROPIC_URL).mock(
            return_value=answer(400, "anthropic.error.invalid_request.json")
        )
        run_id = await start_run(live)
        await live.executor.run_until_idle()
        [run] = live.executor.runs("skill-execute")
        assert run.status == "failed" and run.retries == 0
        assert llm.call_count == 1
        row = await run_row(live, run_id)
        assert row["status"] == "failed"
        assert "400 invalid_request_error" in row["error"] and "max_tokens" in row["error"]
        [failed] = events(live, "skill.execute.failed")
        assert failed["data"] == {"runId": run_id, "error": row["error"], "retryable": False}
        assert await live.pool.fetchval("select count(*) from outputs") == 0
        assert not events(live, "skill.execute.completed")


async def test_authentication_error_is_not_retried(start_live: LiveFactory, tmp_path: Path) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        llm = live.mock.post(ANTHROPIC_URL).mock(
            return_value=answer(401, "anthropic.error.authentication.json")
        )
        run_id = await start_run(live)
        await live.executor.run_until_idle()
        assert llm.call_count == 1
        assert "authentication_error" in (await run_row(live, run_id))["error"]


async def test_failing_for_good_on_failure_marks_failed_and_sends_failed(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        llm = live.mock.post(ANTHROPIC_URL).mock(side_effect=lambda _: overloaded())
        run_id = await start_run(live)
        await live.executor.run_until_idle()
        [run] = live.executor.runs("skill-execute")
        assert run.status == "failed"
        assert llm.call_count == 4  # retries 3
        [handler] = live.executor.runs("skill-execute-failure")
        assert handler.status == "completed", handler.error
        row = await run_row(live, run_id)
        assert row["status"] == "failed" and "overloaded" in row["error"]
        [failed] = events(live, "skill.execute.failed")
        assert failed["data"]["runId"] == run_id and failed["data"]["retryable"] is False
        assert "529" in failed["data"]["error"]


async def test_rate_limit_with_retry_after_waits_then_completes(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        limited = answer(429, "anthropic.error.rate_limit.json", **{"retry-after": "20"})
        live.mock.post(ANTHROPIC_URL).mock(side_effect=[limited, message_ok()])
        start = live.clock.now()
        run_id = await start_run(live)
        await live.executor.run_until_idle()
        assert (await run_row(live, run_id))["status"] == "completed"
        assert live.clock.now() - start >= 20


async def test_openai_compatible_endpoint(start_live: LiveFactory, tmp_path: Path) -> None:
    settings = skill_settings(
        tmp_path,
        anthropic_api_key=None,
        skill_provider="openai",
        openai_base_url=OPENAI_BASE,
        skill_model="llama-3.1-8b-instruct",
    )
    async with start_live(**settings) as live:
        llm = live.mock.post(f"{OPENAI_BASE}/chat/completions").mock(
            return_value=answer(200, "openai.chat.completion.json")
        )
        run_id = await start_run(live, skillName="social-posts")
        await live.executor.run_until_idle()
        row = await run_row(live, run_id)
        assert row["status"] == "completed", row["error"]
        assert (row["tokens_in"], row["tokens_out"]) == (96, 31)
        sent = json.loads(llm.calls.last.request.content)
        assert sent["model"] == "llama-3.1-8b-instruct"
        assert [m["role"] for m in sent["messages"]] == ["system", "user"]
        assert await live.pool.fetchval("select title from outputs") == "Social posts"


async def test_openai_auth_error_is_permanent(start_live: LiveFactory, tmp_path: Path) -> None:
    settings = skill_settings(
        tmp_path, anthropic_api_key=None, openai_api_key="sk-test", skill_model="gpt-4.1"
    )
    async with start_live(**settings) as live:
        llm = live.mock.post("https://api.openai.com/v1/chat/completions").mock(
            return_value=answer(401, "openai.error.invalid_api_key.json")
        )
        run_id = await start_run(live)
        await live.executor.run_until_idle()
        assert llm.call_count == 1
        assert "invalid_request_error" in (await run_row(live, run_id))["error"]


async def test_template_provider_runs_offline_and_the_output_is_readable(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    """What `make dev` does with no provider configured: the whole flow, no network."""
    async with start_live(**skill_settings(tmp_path, anthropic_api_key=None)) as live:
        live.mock.route(host__regex=r"^(?!127\.0\.0\.1).*").mock(
            side_effect=AssertionError("no outbound call expected")
        )
        run_id = await start_run(live, message="Plan our winter newsletter")
        await live.executor.run_until_idle()
        status = (await live.api.get(f"/api/runs/{run_id}", headers=token())).json()
        assert status["status"] == "completed", status
        output = await live.api.get(f"/api/outputs/{status['outputId']}", headers=token())
        assert output.status_code == 200
        content = output.json()["content"]
        assert TEMPLATE_NOTICE in content and "Plan our winter newsletter" in content
        assert output.json()["title"] == "marketing-brief (template)"


async def test_supabase_storage_when_configured(start_live: LiveFactory, tmp_path: Path) -> None:
    settings = skill_settings(
        tmp_path, supabase_url=SUPABASE_URL, supabase_service_role_key="service-role-key-xyz"
    )
    async with start_live(**settings) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        stored: dict[str, bytes] = {}
        prefix = f"{SUPABASE_URL}/storage/v1/object/skill-outputs/"

        def upload(request: httpx.Request) -> httpx.Response:
            key = str(request.url).removeprefix(prefix)
            assert request.headers["x-upsert"] == "true"
            assert request.headers["authorization"] == "Bearer service-role-key-xyz"
            stored[key] = request.content
            body = fixture("supabase.storage.upload.json")
            return httpx.Response(200, json={**body, "Key": f"skill-outputs/{key}"})

        def download(request: httpx.Request) -> httpx.Response:
            key = str(request.url).removeprefix(prefix)
            assert key in stored
            text = fixture("anthropic.message.json")["content"][0]["text"]
            return httpx.Response(
                200, content=text.encode(), headers={"content-type": "text/markdown"}
            )

        live.mock.post(url__startswith=prefix).mock(side_effect=upload)
        live.mock.get(url__startswith=prefix).mock(side_effect=download)
        run_id = await start_run(live, issuer=SUPABASE_ISSUER)
        await live.executor.run_until_idle()
        assert (await run_row(live, run_id))["status"] == "completed"
        key = await live.pool.fetchval("select storage_key from outputs")
        assert list(stored) == [key] and b"Spring launch" in stored[key]
        assert not (tmp_path / "outputs").exists()
        output_id = await live.pool.fetchval("select id from outputs")
        read = await live.api.get(
            f"/api/outputs/{output_id}", headers=token(issuer=SUPABASE_ISSUER)
        )
        assert "Spring launch" in read.json()["content"]


async def test_supabase_missing_bucket_fails_the_run(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    settings = skill_settings(
        tmp_path, supabase_url=SUPABASE_URL, supabase_service_role_key="service-role-key-xyz"
    )
    async with start_live(**settings) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        upload = live.mock.post(url__startswith=f"{SUPABASE_URL}/storage/v1/object/").mock(
            return_value=answer(400, "supabase.storage.error.bucket_not_found.json")
        )
        run_id = await start_run(live, issuer=SUPABASE_ISSUER)
        await live.executor.run_until_idle()
        row = await run_row(live, run_id)
        assert row["status"] == "failed" and "Bucket not found" in row["error"]
        assert upload.call_count == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"skillName": "marketing-brief", "userId": USER}, "runId"),
        ({"runId": str(uuid.uuid4()), "userId": USER}, "skillName"),
        ({"runId": str(uuid.uuid4()), "skillName": "marketing-brief"}, "userId"),
        ({"runId": "not-a-uuid", "skillName": "marketing-brief", "userId": USER}, "runId"),
    ],
)
async def test_a_bad_event_ends_with_a_non_retriable_error_naming_the_field(
    start_live: LiveFactory, tmp_path: Path, data: dict[str, Any], field: str
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        await live.executor.send({"name": "skill.execute", "data": data})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("skill-execute")
        assert run.status == "failed" and run.retries == 0
        assert run.error is not None and field in run.error["message"]
        assert await live.pool.fetchval("select count(*) from runs") == 0


async def test_an_unknown_run_id_ends_without_writing(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        llm = live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        data = {"runId": str(uuid.uuid4()), "skillName": "marketing-brief", "userId": USER}
        await live.executor.send({"name": "skill.execute", "data": data})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("skill-execute")
        assert run.status == "completed" and run.output["status"] == "skipped"
        assert llm.call_count == 0
        for table in ("runs", "outputs", "skill_alerts"):
            assert await live.pool.fetchval(f"select count(*) from {table}") == 0
        assert not (tmp_path / "outputs").exists()
        assert not events(live, "skill.execute.failed")


async def test_an_unknown_skill_in_the_event_fails_the_run(
    start_live: LiveFactory, tmp_path: Path
) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        run_id = await live.pool.fetchval(
            "insert into runs (user_id, skill_name, user_message)"
            " values ($1, 'marketing-brief', 'm') returning id::text",
            USER,
        )
        data = {"runId": run_id, "skillName": "no-such-skill", "userId": USER}
        await live.executor.send({"name": "skill.execute", "data": data})
        await live.executor.run_until_idle()
        [run] = live.executor.runs("skill-execute")
        assert run.status == "failed" and run.retries == 0
        assert "skillName" in (run.error or {})["message"]
        row = await run_row(live, run_id)
        assert row["status"] == "failed" and "no-such-skill" in row["error"]


async def test_two_runs_on_one_day_never_overwrite(start_live: LiveFactory, tmp_path: Path) -> None:
    async with start_live(**skill_settings(tmp_path)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        await start_run(live)
        await start_run(live)
        await live.executor.run_until_idle()
        keys = [r["storage_key"] for r in await live.pool.fetch("select storage_key from outputs")]
        assert len(keys) == len(set(keys)) == 2
        assert len([p for p in (tmp_path / "outputs").rglob("*.md")]) == 2


def test_flow_control_as_registered(make_settings: Callable[..., Settings]) -> None:
    """What Inngest is told; the executor tests below show it enforced."""
    settings = make_settings()
    services = Services(settings=settings, inngest=build_client(settings))
    configs = {
        fn.id: fn.get_config("http://app.test/api/inngest").main.model_dump(
            mode="json", exclude_none=True
        )
        for fn in skills.build(services)
    }
    execute = configs["inngest-app-skill-execute"]
    assert execute["throttle"] == {
        "key": "event.data.userId",
        "limit": 10,
        "period": "1m",
        "burst": 1,
    }
    assert execute["concurrency"] == [{"key": "event.data.userId", "limit": 10}]
    # 100 runs an hour may be queued at once: the last starts ~10 minutes later (+5 margin)
    assert execute["timeouts"] == {"start": "15m", "finish": "10m"}
    assert execute["idempotency"] == (
        "event.data.runId + ':' + string(has(event.data.resend) ? event.data.resend : 0)"
    )
    cancelled = configs["inngest-app-skill-execute-cancelled"]
    assert cancelled["triggers"] == [
        {
            "event": "inngest/function.cancelled",
            "expression": "event.data.function_id == 'inngest-app-skill-execute'",
        }
    ]
    retries = {fid: c["steps"]["step"]["retries"]["attempts"] for fid, c in configs.items()}
    assert retries == {
        "inngest-app-skill-execute": 3,
        "inngest-app-skill-execute-cancelled": 3,
        "inngest-app-notify-completion": 3,
        "inngest-app-feedback-process": 2,
        "inngest-app-monitor-executions": 1,
    }
    assert configs["inngest-app-monitor-executions"]["triggers"] == [{"cron": "*/5 * * * *"}]


async def test_steps_that_crash_after_their_work_leave_one_file_and_one_row(
    start_live: LiveFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """save-output and record-output each do their work, then "crash" before answering: the
    platform retries them, and the retry replaces the same object and finds the same row."""
    from inngest_app.repos.skills import SkillsRepo
    from inngest_app.skills.storage import LocalStorage

    crashed: list[str] = []
    real_put, real_record = LocalStorage.put, SkillsRepo.record_output

    async def put_then_crash(self: LocalStorage, key: str, body: bytes, **kw: Any) -> None:
        await real_put(self, key, body, **kw)
        if "put" not in crashed:
            crashed.append("put")
            raise OSError("worker lost after the upload")

    async def record_then_crash(self: SkillsRepo, **kw: Any) -> Any:
        output = await real_record(self, **kw)
        if "record" not in crashed:
            crashed.append("record")
            raise RuntimeError("worker lost after the insert")
        return output

    monkeypatch.setattr(LocalStorage, "put", put_then_crash)
    monkeypatch.setattr(SkillsRepo, "record_output", record_then_crash)
    async with start_live(**skill_settings(tmp_path)) as live:
        live.mock.post(ANTHROPIC_URL).mock(return_value=message_ok())
        run_id = await start_run(live)
        await live.executor.run_until_idle()
        [run] = live.executor.runs("skill-execute")
        assert run.status == "completed", run.error
        assert crashed == ["put", "record"] and run.retries == 2
        assert [r.attempt for r in run.step_log if r.name == "save-output"] == [0, 1]
        assert [r.attempt for r in run.step_log if r.name == "record-output"] == [0, 1]
        assert await live.pool.fetchval("select count(*) from outputs") == 1
        files = [p for p in (tmp_path / "outputs").rglob("*") if p.is_file()]
        assert len(files) == 1 and files[0].parent.name == run_id
        assert len(events(live, "skill.execute.completed")) == 1
