"""The same end-to-end scenario against a real Inngest Dev Server, when one is reachable.

Set INNGEST_DEV_SERVER_URL (e.g. http://localhost:8288 after `npx inngest-cli@latest dev`) to
run it; otherwise it is skipped with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from inngest_app.app import create_app
from inngest_app.settings import Settings
from inngest_app.testing.devserver import DevServerDriver, dev_server_url
from inngest_app.testing.live import serve_asgi

URL, SKIP_REASON = dev_server_url()
pytestmark = pytest.mark.skipif(URL is None, reason=SKIP_REASON or "")


async def test_ping_completes_on_the_dev_server(make_settings: Callable[..., Settings]) -> None:
    assert URL is not None
    app = create_app(make_settings(inngest_base_url=URL))
    async with serve_asgi(app) as app_url, httpx.AsyncClient(timeout=30) as http:
        driver = DevServerDriver(URL, http)
        assert (await driver.sync(f"{app_url}/api/inngest")).status_code == 200
        event_id = await driver.send({"name": "app/ping", "data": {"pause_s": 1}})
        run = await driver.wait_for_run(event_id, within_s=60)
        assert run["status"] == "Completed"
        pings = await app.state.services.pool.fetchval("select count(*) from pings")
        assert pings == 2
