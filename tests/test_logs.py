"""Logs: JSON lines with run context, and never a secret."""

from __future__ import annotations

import json
import logging

import pytest

from inngest_app.logs import bind_run, configure_logging


def test_json_lines_carry_run_context_and_redact_secrets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = "sk_live_supersecretvalue"
    configure_logging(fmt="json", level="INFO", secrets=[secret])
    try:
        bind_run(function_id="inngest-app-ping", run_id="01RUN", attempt=2)
        logging.getLogger("inngest_app.test").info("calling with key %s", secret, extra={"page": 3})
        line = capsys.readouterr().err.strip().splitlines()[-1]
        entry = json.loads(line)
        assert entry["message"] == "calling with key ***"
        assert secret not in line
        assert entry["function_id"] == "inngest-app-ping"
        assert entry["run_id"] == "01RUN" and entry["attempt"] == 2 and entry["page"] == 3
    finally:
        configure_logging(fmt="text", level="WARNING")


def test_text_format_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(fmt="text", level="INFO")
    try:
        logging.getLogger("inngest_app.test").warning("hello %s", "world")
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert "WARNING" in line and "hello world" in line and not line.startswith("{")
    finally:
        configure_logging(fmt="text", level="WARNING")
