"""`GET /healthz`: liveness with the version; `?ready=1` also asks the database."""

from __future__ import annotations

import asyncio
import logging

import asyncpg
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from inngest_app import __version__
from inngest_app.routes.api import Operation, public_route, query_of
from inngest_app.services import NotStartedError, Services
from inngest_app.store import StoreError
from inngest_app.store.migrate import behind_message, pending_migrations

logger = logging.getLogger(__name__)
READY_TIMEOUT_S = 2.0


def routes(services: Services) -> list[BaseRoute]:
    """The health route."""

    async def healthz(request: Request) -> Response:
        body: dict[str, object] = {"status": "ok", "version": __version__}
        if query_of(request, HealthQuery).ready not in (None, "", "0", "false"):
            # First the schema: behind it, even the ping's SQL function may not exist yet.
            pending = await _pending(services)
            if pending:
                return JSONResponse(
                    {
                        **body,
                        "status": "unavailable",
                        "database": "ok",
                        "migrations": "pending",
                        "pendingMigrations": pending,
                        "error": behind_message(pending),
                    },
                    status_code=503,
                )
            try:
                await asyncio.wait_for(services.transport.call("app_ping_db", {}), READY_TIMEOUT_S)
                body["database"] = "ok"
            except (StoreError, NotStartedError, OSError, TimeoutError) as exc:
                logger.warning("readiness check failed: %s", exc)
                return JSONResponse(
                    {**body, "status": "unavailable", "database": "unreachable"}, status_code=503
                )
        return JSONResponse(body)

    operation = Operation(
        "Liveness and version; with ready=1 also the database",
        "health",
        query=HealthQuery,
        auth=False,
        errors={503: "not ready: the database is unreachable or its schema behind"},
    )
    return [public_route("GET", "/healthz", healthz, operation)]


class HealthQuery(BaseModel):
    """`?ready=1` asks the database too (other parameters are ignored: probes add their own)."""

    model_config = ConfigDict(extra="ignore")

    ready: str | None = Field(None, max_length=16)


async def _pending(services: Services) -> list[str]:
    """Migrations the database still lacks; checked again until none are (so applying them
    with the service running makes it ready without a restart)."""
    pool = services.pool
    if pool is None or services.pending_migrations == []:
        return []
    try:
        async with pool.acquire() as conn:
            services.pending_migrations = await asyncio.wait_for(
                pending_migrations(conn), READY_TIMEOUT_S
            )
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        logger.debug("migration check failed: %s", exc)  # the ping below reports it
        return []
    return services.pending_migrations or []
