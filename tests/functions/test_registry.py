"""The one list of functions: unique ids, and every event the service names has a handler."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from typing import Any

import inngest
import pytest

import functions
from functions import DuplicateFunctionError, build_functions
from inngest_app.client import build_client
from inngest_app.services import Services
from inngest_app.settings import Settings

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_-]*/[a-z0-9_.*-]+$")


def _services(make_settings: Callable[..., Settings]) -> Services:
    settings = make_settings()
    return Services(settings=settings, inngest=build_client(settings))


def _event_constants() -> dict[str, str]:
    """Every upper-case module constant in `functions` that looks like an event name."""
    found: dict[str, str] = {}
    for info in pkgutil.walk_packages(functions.__path__, prefix="functions."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, str) and EVENT_NAME.match(value):
                found[f"{info.name}.{name}"] = value
    return found


def _handled(fns: list[inngest.Function[Any]], app_id: str) -> set[str]:
    handled: set[str] = set()
    for fn in fns:
        for config in fn.get_config("http://app.test/api/inngest").main.model_dump(
            mode="json", exclude_none=True
        )["triggers"]:
            if "event" in config:
                handled.add(config["event"])
        for cancel in fn._opts.cancel or []:
            handled.add(cancel.event)
    return handled


def test_ids_are_unique_and_every_event_has_a_handler(
    make_settings: Callable[..., Settings],
) -> None:
    services = _services(make_settings)
    fns = build_functions(services)
    ids = [fn.id for fn in fns]
    assert len(ids) == len(set(ids))
    handled = _handled(fns, services.settings.inngest_app_id)
    unhandled = {
        where: name
        for where, name in _event_constants().items()
        if name not in handled
        and not any(h.endswith("*") and name.startswith(h[:-1]) for h in handled)
    }
    assert not unhandled, f"events with no function: {unhandled}"


def test_duplicate_ids_are_an_error(
    make_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions import ping

    monkeypatch.setattr(functions, "FAMILIES", (ping.build, ping.build))
    with pytest.raises(DuplicateFunctionError, match="ping"):
        build_functions(_services(make_settings))
