"""`python -m inngest_app stripe replay EVT_ID`: a kept delivery goes to Inngest again."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from inngest_app.app import create_app
from inngest_app.cli import stripe as stripe_cli
from inngest_app.settings import Settings
from tests.apps import in_process
from tests.stripe.support import SECRET, load_event, signed

EVENT_API = "http://localhost:8288/e/"


@pytest.fixture
def event_api() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as router:
        yield router


def accept(router: respx.MockRouter, *, up: bool = True) -> respx.Route:
    def reply(request: httpx.Request) -> httpx.Response:
        if not up:
            raise httpx.ConnectError("refused")
        ids = [e["id"] for e in json.loads(request.content)]
        return httpx.Response(200, json={"ids": ids, "status": 200})

    return router.post(url__startswith=EVENT_API).mock(side_effect=reply)


def sent(route: respx.Route) -> list[dict[str, Any]]:
    return [e for call in route.calls for e in json.loads(call.request.content)]


async def test_replay_after_a_failed_hand_over_keeps_the_stripe_id(
    make_settings: Callable[..., Settings],
    event_api: respx.MockRouter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("inngest._internal.client_lib.client.RETRY_BASE_DELAY", 0.0)
    settings = make_settings(stripe_webhook_secret=SECRET)
    down = accept(event_api, up=False)
    async with in_process(create_app(settings)) as client:
        body, headers = signed(load_event("invoice.paid.json", id="evt_replay_1"))
        assert (await client.post("/api/stripe/webhook", content=body, headers=headers)).is_error
    assert down.call_count >= 1
    event_api.routes.clear()
    route = accept(event_api)

    args = argparse.Namespace(event_id="evt_replay_1")
    assert await stripe_cli._run_replay(args, settings) == 0
    assert "first hand-over" in capsys.readouterr().out
    (first,) = sent(route)
    assert first["id"] == "evt_replay_1" and first["name"] == "stripe/invoice.paid"
    assert first["data"]["object"]["id"] == "in_000000000000000000000000"

    # Already handed over: Inngest would drop the same id, so a replay gets a fresh one.
    assert await stripe_cli._run_replay(args, settings) == 0
    second = sent(route)[-1]
    assert second["id"].startswith("evt_replay_1/replay/")
    assert second["data"]["id"] == "evt_replay_1"


async def test_replay_of_an_unknown_event_fails(make_settings: Callable[..., Settings]) -> None:
    # A command error: the CLI prints it as one line and exits 2 (tests/cli/test_errors.py).
    args = argparse.Namespace(event_id="evt_never_seen")
    with pytest.raises(stripe_cli.ReplayError, match="no stored delivery for evt_never_seen"):
        await stripe_cli._run_replay(args, make_settings())


def test_the_command_is_registered() -> None:
    from inngest_app.cli import COMMAND_MODULES

    assert stripe_cli in COMMAND_MODULES
    parser = argparse.ArgumentParser()
    stripe_cli.register(parser.add_subparsers())
    args = parser.parse_args(["stripe", "replay", "evt_1"])
    assert args.event_id == "evt_1" and args.handler is stripe_cli._run_replay
