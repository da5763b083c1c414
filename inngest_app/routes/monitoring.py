"""`GET /api/inngest/monitoring` (usage, quota and cost), its runs (`.../monitoring/runs`,
`.../monitoring/runs/{runId}`) and `GET /metrics` (Prometheus).

`/metrics` is open unless `METRICS_TOKEN` is set; then it needs `Authorization: Bearer <token>`
(Prometheus: `authorization: {credentials: ...}` in the scrape config).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from inngest_app.auth import AuthError, authenticate
from inngest_app.monitoring.runs import (
    RunsParameterError,
    get_run,
    list_runs,
    parse_run_path,
    parse_runs_query,
    scope_runs,
)
from inngest_app.monitoring.stats import (
    StatsParameterError,
    parse_stats_query,
    run_stats,
    scope_for,
)
from inngest_app.repos.executions import ExecutionsRepo
from inngest_app.repos.monitoring_runs import RunsRepo
from inngest_app.serve import error_response
from inngest_app.services import Services
from inngest_app.store import StoreError

logger = logging.getLogger(__name__)
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def routes(services: Services) -> list[BaseRoute]:
    """The stats route, and the metrics route when monitoring is on."""

    async def stats(request: Request) -> Response:
        now = dt.datetime.now(dt.UTC)
        try:
            caller = await authenticate(request, services.settings)
            query = scope_for(caller, parse_stats_query(request.query_params, now=now))
            body = await run_stats(
                ExecutionsRepo(services.transport),
                services.settings,
                query,
                admin=caller.is_admin,
                now=now,
                runs=RunsRepo(services.transport),
            )
        except AuthError as exc:
            return _auth_error(exc)
        except StatsParameterError as exc:
            field = str(exc).split(":", 1)[0]
            return error_response(400, "invalid_parameter", str(exc), field=field)
        except StoreError as exc:
            logger.warning("stats unavailable: %s", exc)
            return error_response(503, "store_unavailable", "storage is unavailable")
        registered = {fn.get_id() for fn in getattr(request.app.state, "functions", [])}
        body["functions"] = sorted(registered | {f["functionId"] for f in body["byFunction"]})
        return JSONResponse(body)

    async def runs(request: Request) -> Response:
        """A page of recorded runs, newest first (keyset-paged; a user's own only)."""
        try:
            caller = await authenticate(request, services.settings)
            query = parse_runs_query(
                request.query_params.multi_items(), now=dt.datetime.now(dt.UTC)
            )
            body = await list_runs(
                RunsRepo(services.transport), services.settings, scope_runs(caller, query)
            )
        except AuthError as exc:
            return _auth_error(exc)
        except RunsParameterError as exc:
            return error_response(400, "invalid_parameter", str(exc), field=exc.field)
        except StoreError as exc:
            logger.warning("runs unavailable: %s", exc)
            return error_response(503, "store_unavailable", "storage is unavailable")
        return JSONResponse(body)

    async def run(request: Request) -> Response:
        """One recorded run; 404 when unknown or (for a user) someone else's."""
        try:
            caller = await authenticate(request, services.settings)
            if request.query_params:
                name = next(iter(request.query_params))
                raise RunsParameterError(name, "unknown parameter")
            path = parse_run_path(request.path_params)
            body = await get_run(
                RunsRepo(services.transport),
                services.settings,
                path.run_id,
                user_id=None if caller.is_admin else caller.user_id,
            )
        except AuthError as exc:
            return _auth_error(exc)
        except RunsParameterError as exc:
            return error_response(400, "invalid_parameter", str(exc), field=exc.field)
        except StoreError as exc:
            logger.warning("run unavailable: %s", exc)
            return error_response(503, "store_unavailable", "storage is unavailable")
        if body is None:
            return error_response(404, "not_found", "no such run", field="runId")
        return JSONResponse(body)

    async def metrics(request: Request) -> Response:
        token = services.settings.metrics_token
        if token is not None:
            offered = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(offered.encode(), token.get_secret_value().encode()):
                return error_response(
                    401, "unauthorized", "send Authorization: Bearer <METRICS_TOKEN>"
                )
        recorder = services.recorder
        if recorder is None:
            return error_response(404, "not_found", "monitoring is disabled")
        return Response(recorder.metrics.render(), media_type=PROMETHEUS_TEXT)

    return [
        Route("/api/inngest/monitoring", stats, methods=["GET"]),
        Route("/api/inngest/monitoring/runs", runs, methods=["GET"]),
        Route("/api/inngest/monitoring/runs/{runId}", run, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def _auth_error(exc: AuthError) -> Response:
    code = "unauthorized" if exc.status == 401 else "forbidden"
    return error_response(exc.status, code, str(exc))
