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
On Ctrl-C or SIGTERM everything it started stops: the executor, uvicorn, and the embedded
Postgres (this process holds it across reloads and releases it last).
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

from inngest_app.settings import DEV_JWT_SECRET, SettingsError, load_settings
from inngest_app.store.postgres import start_embedded, stop_embedded

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


def user_api_hints(env: dict[str, str]) -> list[str]:
    """How a newcomer calls the user APIs: a user token from `python -m inngest_app token`
    (signed with make dev's dev secret when `SUPABASE_JWT_SECRET` is unset), or the admin key."""
    hints = [
        "user APIs: TOKEN=$(INNGEST_DEV=1 .venv/bin/python -m inngest_app token --user alice) then "
        f'curl -H "Authorization: Bearer $TOKEN" {APP_URL}/api/inngest/monitoring/runs',
        f"usage dashboard: {APP_URL}/monitoring (paste that token, or the admin key)",
    ]
    if env.get("MONITORING_API_KEY"):
        hints.append("admin: the MONITORING_API_KEY you set sees every user's runs")
    else:
        hints.append(
            "admin: set MONITORING_API_KEY (e.g. $(openssl rand -hex 24)) to see all users"
        )
    return hints


def dev_mode_refusal() -> str | None:
    """Why the environment must not run in dev mode (e.g. production keys), or None."""
    try:
        load_settings().check_dev_mode()
    except SettingsError as exc:
        return str(exc)
    return None


def _configured(name: str) -> bool:
    """Whether the environment or the `.env` file sets `name` (what the app will read)."""
    if os.environ.get(name):
        return True
    env_file = ROOT / (os.environ.get("ENV_FILE", ".env") or "")
    if not os.environ.get("ENV_FILE", ".env") or not env_file.is_file():
        return False
    lines = env_file.read_text(encoding="utf-8", errors="replace").splitlines()
    return any(
        line.strip().startswith(f"{name}=") and line.split("=", 1)[1].strip() for line in lines
    )


def _stop_on_sigterm(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # the same orderly shutdown as Ctrl-C


def embedded_dir() -> Path | None:
    """The embedded Postgres data dir, or None when a `DATABASE_URL` or Supabase is set."""
    settings = load_settings(cloud_keys=())  # only the storage settings are read here
    if settings.database_url is not None or settings.supabase_url is not None:
        return None
    return settings.embedded_pg_dir


def main() -> int:
    """Run the service for development until interrupted."""
    os.environ.setdefault("INNGEST_DEV", "1")
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    os.chdir(ROOT)  # `.env` and the relative data dir are the project's, wherever we're run from
    try:
        pg_dir = embedded_dir()
    except SettingsError as exc:
        log(str(exc))
        return 2
    if pg_dir is None:
        return serve()
    # Hold the embedded server for the whole session (uvicorn's reloads restart the app, which
    # would otherwise stop and start it each time), and stop it on the way out.
    start_embedded(pg_dir)
    try:
        return serve()
    finally:
        stop_embedded(pg_dir)
        log(f"embedded Postgres stopped (data kept in {pg_dir})")


def serve() -> int:
    """Migrate, start the executor if needed and uvicorn; wait; stop them."""
    env = dict(os.environ)
    base_url = env.setdefault("INNGEST_BASE_URL", "http://localhost:8288")
    if env.get("INNGEST_DEV", "1").lower() in ("1", "true") and not _configured(
        "SUPABASE_JWT_SECRET"
    ):
        env["SUPABASE_JWT_SECRET"] = DEV_JWT_SECRET  # what `python -m inngest_app token` signs with
    python = sys.executable
    refusal = dev_mode_refusal()
    if refusal:
        log(refusal)
        return 2
    if APP_HOST not in ("127.0.0.1", "localhost", "::1"):
        log(f"HOST={APP_HOST}: dev mode is reachable from other machines, unauthenticated")

    try:
        migrated = subprocess.call([python, "scripts/migrate.py"], cwd=ROOT, env=env)  # noqa: S603
    except KeyboardInterrupt:
        return 0
    if migrated != 0:
        log("migrations failed; not starting")
        return 1

    children: list[subprocess.Popen[bytes]] = []
    try:
        return _run(children, env, base_url)
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C must not cut the shutdown short (and leave children behind).
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _run(children: list[subprocess.Popen[bytes]], env: dict[str, str], base_url: str) -> int:
    python = sys.executable
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
    executor_started = bool(children)
    # uvicorn starts while the executor does (they don't need each other until the sync below)
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
    if executor_started and not wait_for(base_url, 15):
        log("the offline executor did not start")
    if wait_for(f"{APP_URL}/healthz", 60):
        sync = httpx.put(f"{APP_URL}/api/inngest", timeout=10)
        log(f"app synced with {base_url}: HTTP {sync.status_code}")
        log(f"serving on {APP_URL} (Inngest endpoint {APP_URL}/api/inngest)")
        for hint in user_api_hints(env):
            log(hint)
    else:
        log("the app did not answer within 60 s; see uvicorn's output above")
    return children[-1].wait()


if __name__ == "__main__":
    sys.exit(main())
