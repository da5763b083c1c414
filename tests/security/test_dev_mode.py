"""Issue 9, point 5: dev mode (no signature checks, open test-event route) is not reachable."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from inngest_app.app import create_app
from inngest_app.settings import Settings, SettingsError
from inngest_app.testing.live import free_port

ROOT = Path(__file__).resolve().parents[2]
FORGED_CHECKOUT = {
    "name": "stripe/checkout.session.completed",
    "data": {
        "id": "evt_forged",
        "type": "checkout.session.completed",
        "created": 1,
        "livemode": True,
        "object": {
            "id": "cs_forged",
            "object": "checkout.session",
            "mode": "payment",
            "client_reference_id": "attacker",
            "status": "complete",
        },
    },
}
PRODUCTION_KEYS = [
    ("INNGEST_SIGNING_KEY", "signkey-prod-" + "ab" * 32),
    ("INNGEST_SIGNING_KEY_FALLBACK", "signkey-prod-" + "cd" * 32),
    ("STRIPE_API_KEY", "sk_live_" + "x" * 24),
    ("STRIPE_API_KEY", "rk_live_" + "x" * 24),
]


def other_addresses() -> list[str]:
    """Addresses of this machine other than 127.0.0.1: what a neighbour would connect to."""
    found = ["127.0.0.2"]  # on Linux all of 127/8 reaches a 0.0.0.0 listener
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outbound address
        address = udp.getsockname()[0]
        if not address.startswith("127."):
            found.append(address)
    return found


@contextlib.contextmanager
def dev_process(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "scripts/dev.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.communicate()


def dev_env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("INNGEST_", "STRIPE_"))}
    return {**base, "PORT": str(free_port()), **extra}


def test_make_dev_is_unreachable_from_other_addresses(database_url: str) -> None:
    env = dev_env(DATABASE_URL=database_url, INNGEST_BASE_URL=f"http://127.0.0.1:{free_port()}")
    port = env["PORT"]
    with dev_process(env):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("make dev did not answer on 127.0.0.1")
        for address in other_addresses():
            with pytest.raises(httpx.ConnectError):
                httpx.post(
                    f"http://{address}:{port}/api/inngest/test", json=FORGED_CHECKOUT, timeout=5
                )
        with psycopg.connect(database_url) as conn:
            row = conn.execute("select count(*) from stripe_events").fetchone()
    assert row == (0,)


@pytest.mark.parametrize(("name", "value"), PRODUCTION_KEYS)
def test_make_dev_refuses_production_keys(name: str, value: str) -> None:
    env = dev_env(**{name: value})
    with dev_process(env) as process:
        output = process.communicate(timeout=60)[0].decode(errors="replace")
    assert process.returncode == 2, output
    assert name in output and "refuses production keys" in output
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"http://127.0.0.1:{env['PORT']}/api/inngest/test", json=FORGED_CHECKOUT)


@pytest.mark.parametrize(("name", "value"), PRODUCTION_KEYS)
def test_the_dev_app_refuses_production_keys(
    make_settings: Callable[..., Settings], name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=name):
        create_app(make_settings(**{name.lower(): value}))
