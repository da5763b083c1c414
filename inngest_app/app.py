"""The application factory: settings → client → functions → routes → Starlette app.

Nothing here connects to anything: the lifespan opens the HTTP client, the store (embedded
Postgres, a `DATABASE_URL`, or Supabase's REST API) and the background components, and closes
them in reverse order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

import asyncpg
import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from functions import build_functions
from inngest_app.bodylimit import SDK_MAX_BODY_BYTES, BodyLimit
from inngest_app.client import build_client, close_client
from inngest_app.logs import configure_logging
from inngest_app.monitoring.metrics import RunMetrics
from inngest_app.monitoring.middleware import monitoring_middleware
from inngest_app.monitoring.recorder import Recorder
from inngest_app.outbound import GuardedClient
from inngest_app.repos.executions import ExecutionsRepo
from inngest_app.routes import build_routes
from inngest_app.routes.stripe import MAX_BODY_BYTES, WEBHOOK_PATH
from inngest_app.serve import error_response, inngest_routes
from inngest_app.services import Services
from inngest_app.settings import Settings, load_settings
from inngest_app.store import PostgresTransport, SupabaseTransport
from inngest_app.store.migrate import (
    MigrationError,
    apply_migrations,
    behind_message,
    pending_migrations,
)
from inngest_app.store.postgres import create_pool, resolve_dsn, stop_embedded

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the ASGI app. `settings=None` reads (and validates) the environment."""
    settings = settings or load_settings()
    settings.check_dev_mode()
    configure_logging(
        fmt=settings.log_format.value, level=settings.log_level, secrets=settings.secret_values()
    )
    recorder = _recorder(settings, lambda: ExecutionsRepo(services.transport))
    middleware = [monitoring_middleware(recorder)] if recorder else []
    services = Services(
        settings=settings, inngest=build_client(settings, middleware=middleware), recorder=recorder
    )
    if recorder is not None:
        services.lifecycles.append(recorder)
    functions = build_functions(services)
    routes = [
        *inngest_routes(
            services.inngest,
            functions,
            serve_path=settings.inngest_serve_path,
            serve_origin=settings.inngest_serve_origin,
            max_signature_age_s=settings.inngest_signature_max_age_s,
            allow_unsigned_sync=settings.inngest_allow_unsigned_sync,
            trust_proxy_headers=settings.inngest_trust_proxy_headers,
        ),
        *build_routes(services),
    ]
    body_limits = {settings.inngest_serve_path: SDK_MAX_BODY_BYTES, WEBHOOK_PATH: MAX_BODY_BYTES}
    app = Starlette(
        routes=routes,
        middleware=[Middleware(BodyLimit, limits=body_limits)],
        lifespan=lambda _app: _lifespan(services),
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    app.state.services = services
    app.state.functions = functions
    app.state.recorder = recorder
    return app


def _recorder(settings: Settings, repo: Callable[[], ExecutionsRepo]) -> Recorder | None:
    if not settings.monitoring_enabled:
        return None
    return Recorder(
        repo,
        RunMetrics(),
        interval_s=settings.monitoring_flush_interval_s,
        batch=settings.monitoring_flush_batch,
        buffer_max=settings.monitoring_buffer_max,
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    # A bug, not the input: logged with its traceback, answered in the one error shape.
    logger.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # noqa: S101 (registered for HTTPException only)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(exc.status_code, code, str(exc.detail))


@contextlib.asynccontextmanager
async def _lifespan(services: Services) -> AsyncIterator[None]:
    settings = services.settings
    timeout = httpx.Timeout(settings.http_timeout_s, connect=min(5.0, settings.http_timeout_s))
    async with (
        httpx.AsyncClient(timeout=timeout) as http,
        GuardedClient.from_settings(settings) as outbound,
    ):
        services._http = http
        services._outbound = outbound
        pool = None
        if settings.uses_supabase_rest:
            assert settings.supabase_url and settings.supabase_service_role_key  # noqa: S101
            services._transport = await SupabaseTransport.connect(
                url=settings.supabase_url,
                service_role_key=settings.supabase_service_role_key.get_secret_value(),
                http=http,
            )
        else:
            pool = await _open_pool(settings)
            services._pool = pool
            services._transport = PostgresTransport(pool)
            services.pending_migrations = await _check_schema(settings, pool)
        started = []
        try:
            for component in services.lifecycles:
                await component.start()
                started.append(component)
            logger.info(
                "serving %s in %s mode",
                settings.inngest_app_id,
                "dev" if settings.inngest_dev else "cloud",
            )
            yield
        finally:
            for component in reversed(started):
                await component.stop()
            if pool is not None:
                await pool.close()
                if settings.database_url is None:  # the embedded server: stop it if last user
                    await asyncio.to_thread(stop_embedded, settings.embedded_pg_dir)
            await close_client(services.inngest)
            services._transport = services._pool = services._http = None
            services._outbound = None


async def _check_schema(settings: Settings, pool: asyncpg.Pool) -> list[str] | None:
    """The pending migration files (applied first with `MIGRATE_ON_START`); None if unknown.

    A schema behind the code makes every data call fail with "function ... does not exist":
    say so once at start, with the fix, and let readiness fail until it is applied.
    """
    try:
        async with pool.acquire() as conn:
            if settings.migrate_on_start:
                try:  # the advisory lock keeps several workers from applying a file twice
                    for name in await apply_migrations(conn):
                        logger.info("MIGRATE_ON_START: applied %s", name)
                except MigrationError as exc:
                    logger.error("MIGRATE_ON_START: %s", exc)
            pending = await pending_migrations(conn)
    except MigrationError as exc:  # a misnamed file: the deploy is broken, say which
        logger.error("schema check failed: %s", exc)
        return None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        logger.debug("schema check skipped: database unreachable (%s)", type(exc).__name__)
        return None
    if pending:
        logger.error("%s (or set MIGRATE_ON_START=1)", behind_message(pending))
    return pending


async def _open_pool(settings: Settings) -> asyncpg.Pool:
    dsn = await resolve_dsn(settings)
    try:
        return await create_pool(dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max)
    except Exception as exc:  # any connect failure: degrade to a failing readiness, don't crash
        logger.error(
            "database unreachable at start-up (%s); readiness fails until it answers",
            type(exc).__name__,
        )
        return await create_pool(dsn, min_size=0, max_size=settings.db_pool_max)
