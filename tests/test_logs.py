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


def test_tracebacks_and_extra_fields_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "whsec_supersecretvalue"
    configure_logging(fmt="json", level="INFO", secrets=[secret])
    try:
        try:
            raise RuntimeError(f"upstream refused key {secret}")
        except RuntimeError:
            logging.getLogger("inngest_app.test").exception(
                "failed", extra={"header": f"Bearer {secret}", "payload": {"key": secret}}
            )
        line = capsys.readouterr().err.strip().splitlines()[-1]
        assert secret not in line
        entry = json.loads(line)
        assert "RuntimeError: upstream refused key ***" in entry["exc"]
        assert entry["header"] == "Bearer ***" and "***" in entry["payload"]
    finally:
        configure_logging(fmt="text", level="WARNING")


def test_uvicorns_own_tracebacks_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "sk_live_anothersecretvalue"
    server_logger = logging.getLogger("uvicorn.error")
    server_handler = logging.StreamHandler()
    server_logger.addHandler(server_handler)
    server_logger.propagate = False
    try:
        configure_logging(fmt="text", level="INFO", secrets=[secret])
        try:
            raise ValueError(secret)
        except ValueError:
            server_logger.exception("Exception in ASGI application")
        output = capsys.readouterr().err
        assert "Exception in ASGI application" in output and "ValueError: ***" in output
        assert secret not in output
    finally:
        server_logger.removeHandler(server_handler)
        server_logger.propagate = True
        configure_logging(fmt="text", level="WARNING")
