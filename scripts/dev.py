"""`make dev`: migrate, find a Dev Server (or start the offline executor), serve with reload.

1. Dev mode is the default here (`INNGEST_DEV=1` unless set otherwise).
2. Migrations are applied to `DATABASE_URL`, or to the embedded Postgres under `.data/`.
3. If an Inngest Dev Server answers at `INNGEST_BASE_URL`, the app syncs with it. If none does,
   the project's own executor starts in offline mode on that address (real-clock sleeps, crons
   on schedule), so events sent through the API run end to end with no internet.
4. uvicorn serves `inngest_app.main:app` with reload on http://localhost:8000, and the app is
   synced (`PUT /api/inngest`) as soon as it answers.

Dev mode checks no signatures and has an open test-event route: it binds 127.0.0.1 unless `HOST`
says otherwise, and refuses to start with production keys (`signkey-prod-…`, Stripe live keys).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
APP_PORT = int(os.environ.get("PORT", "8000"))
APP_HOST = os.environ.get("HOST", "127.0.0.1")  # dev mode is never for a reachable host
APP_URL = f"http://localhost:{APP_PORT}"
DEV_SERVER_HINT = f"npx inngest-cli@latest dev -u {APP_URL}/api/inngest"


def log(message: str) -> None:
    """One plain line on stderr, prefixed so it stands out among uvicorn's."""
    print(f"[make dev] {message}", file=sys.stderr, flush=True)


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether anything speaks HTTP at `url`."""
    try:
        httpx.get(url, timeout=timeout)
    except httpx.HTTPError:
        return False
    return True


def wait_for(url: str, seconds: float) -> bool:
    """Poll `url` until it answers or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answers(url, timeout=0.5):
            return True
        time.sleep(0.2)
    return False


def dev_mode_refusal() -> str | None:
    """Why the environment must not run in dev mode (e.g. production keys), or None."""
    from inngest_app.settings import SettingsError, load_settings

    try:
        load_settings().check_dev_mode()
    except SettingsError as exc:
        return str(exc)
    return None


def main() -> int:
    """Run the service for development until interrupted."""
    os.environ.setdefault("INNGEST_DEV", "1")
    env = dict(os.environ)
    base_url = env.setdefault("INNGEST_BASE_URL", "http://localhost:8288")
    python = sys.executable
    refusal = dev_mode_refusal()
    if refusal:
        log(refusal)
        return 2
    if APP_HOST not in ("127.0.0.1", "localhost", "::1"):
        log(f"HOST={APP_HOST}: dev mode is reachable from other machines, unauthenticated")

    if subprocess.call([python, "scripts/migrate.py"], cwd=ROOT, env=env) != 0:  # noqa: S603
        log("migrations failed; not starting")
        return 1

    children: list[subprocess.Popen[bytes]] = []
    if answers(base_url):
        log(f"Inngest Dev Server found at {base_url}; the app will sync with it")
    else:
        parsed = urllib.parse.urlparse(base_url)
        log(
            f"no Inngest Dev Server at {base_url}: starting the project's offline executor there "
            f"(a test/dev tool, not the real Dev Server). For the real one run: {DEV_SERVER_HINT}"
        )
        children.append(
            subprocess.Popen(  # noqa: S603
                [
                    python,
                    "-m",
                    "inngest_app.testing",
                    "--host",
                    parsed.hostname or "127.0.0.1",
                    "--port",
                    str(parsed.port or 8288),
                    "--app-url",
                    f"{APP_URL}/api/inngest",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        if not wait_for(base_url, 15):
            log("the offline executor did not start")
    children.append(
        subprocess.Popen(  # noqa: S603
            [
                python,
                "-m",
                "uvicorn",
                "inngest_app.main:app",
                "--reload",
                "--host",
                APP_HOST,
                "--port",
                str(APP_PORT),
                "--reload-dir",
                "inngest_app",
                "--reload-dir",
                "functions",
            ],
            cwd=ROOT,
            env=env,
        )
    )
    try:
        if wait_for(f"{APP_URL}/healthz", 30):
            sync = httpx.put(f"{APP_URL}/api/inngest", timeout=10)
            log(f"app synced with {base_url}: HTTP {sync.status_code}")
            log(f"serving on {APP_URL} (Inngest endpoint {APP_URL}/api/inngest)")
        else:
            log("the app did not answer within 30 s; see uvicorn's output above")
        return children[-1].wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()


if __name__ == "__main__":
    sys.exit(main())
