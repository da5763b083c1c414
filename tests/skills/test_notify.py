"""Notifications: Telegram's answers, webhook outcomes, and the bot token never in a log line."""

from __future__ import annotations

import httpx
import pytest
import respx

from inngest_app.logs import configure_logging
from inngest_app.settings import Settings
from inngest_app.skills.notify import (
    NotifyError,
    TelegramClient,
    completion_text,
    webhook_outcome,
)
from tests.skills.support import BOT_TOKEN, TELEGRAM_URL, answer


async def test_telegram_answers() -> None:
    async with httpx.AsyncClient() as http:
        client = TelegramClient(http, BOT_TOKEN)
        with respx.mock:
            route = respx.post(TELEGRAM_URL)
            route.mock(return_value=answer(200, "telegram.sendMessage.ok.json"))
            sent = await client.send_message("123456789", "hi")
            assert sent.ok and sent.detail == "telegram message 4242"
            route.mock(return_value=answer(400, "telegram.sendMessage.chat_not_found.json"))
            refused = await client.send_message("1", "hi")
            assert not refused.ok and "chat not found" in refused.detail
            route.mock(return_value=answer(429, "telegram.sendMessage.too_many_requests.json"))
            with pytest.raises(NotifyError) as limited:
                await client.send_message("1", "hi")
            assert limited.value.retry_after_s == 3
            route.mock(return_value=httpx.Response(502, text="<html>bad gateway</html>"))
            with pytest.raises(NotifyError, match="502"):
                await client.send_message("1", "hi")


async def test_the_bot_token_is_redacted_from_logs(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(inngest_dev=True, telegram_bot_token=BOT_TOKEN)
    configure_logging(fmt="text", level="INFO", secrets=settings.secret_values())
    try:
        async with httpx.AsyncClient() as http:
            with respx.mock:
                respx.post(TELEGRAM_URL).mock(
                    return_value=answer(200, "telegram.sendMessage.ok.json")
                )
                await TelegramClient(http, BOT_TOKEN).send_message("1", "hi")
        logged = capsys.readouterr().err
        assert "api.telegram.org/bot***/sendMessage" in logged  # httpx's request line
        assert BOT_TOKEN not in logged
    finally:
        configure_logging(fmt="text", level="WARNING")


@pytest.mark.parametrize(
    ("status", "ok"), [(200, True), (204, True), (400, False), (404, False), (410, False)]
)
def test_webhook_final_outcomes(status: int, ok: bool) -> None:
    assert webhook_outcome(status).ok is ok


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_webhook_transient_outcomes_raise(status: int) -> None:
    with pytest.raises(NotifyError):
        webhook_outcome(status)


def test_completion_text_is_bounded() -> None:
    text = completion_text(skill="s", title="T", preview="p" * 5000, output_id="o")
    assert text.startswith("Your s is ready: T") and len(text) <= 3500
