"""`GET /api/inngest/monitoring` (usage, quota and cost) and `GET /metrics` (Prometheus).

`/metrics` is open unless `METRICS_TOKEN` is set; then it needs `Authorization: Bearer <token>`
(Prometheus: `authorization: {credentials: ...}` in the scrape config).
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from inngest_app.auth import Caller
from inngest_app.inputs import Line
from inngest_app.monitoring.stats import (
    PARAMETERS,
    StatsParameterError,
    parse_stats_query,
    run_stats,
    scope_for,
)
from inngest_app.repos.executions import ExecutionsRepo
from inngest_app.routes.api import Operation, api_route, public_route
from inngest_app.serve import error_response
from inngest_app.services import Services

logger = logging.getLogger(__name__)
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
Param = Annotated[Line, StringConstraints(max_length=255)]


def routes(services: Services) -> list[BaseRoute]:
    """The stats route, and the metrics route when monitoring is on."""

    async def stats(request: Request, caller: Caller) -> Response:
        now = dt.datetime.now(dt.UTC)
        try:
            query = scope_for(caller, parse_stats_query(request.query_params, now=now))
        except StatsParameterError as exc:
            field = str(exc).split(":", 1)[0]
            return error_response(
                400, "invalid_parameter", str(exc), field=field if field in PARAMETERS else None
            )
        body = await run_stats(
            ExecutionsRepo(services.transport),
            services.settings,
            query,
            admin=caller.is_admin,
            now=now,
        )
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

    tag = "monitoring"
    return [
        api_route(
            services,
            "GET",
            "/api/inngest/monitoring",
            stats,
            Operation("Runs, steps, durations, cost and quota", tag, query=StatsParams),
        ),
        public_route(
            "GET",
            "/metrics",
            metrics,
            Operation(
                "Prometheus metrics",
                tag,
                auth=False,
                media_type=PROMETHEUS_TEXT,
                errors={401: "METRICS_TOKEN required", 404: "monitoring is disabled"},
            ),
        ),
    ]


class StatsParams(BaseModel):
    """The query of `GET /api/inngest/monitoring` (dates: ISO 8601 dates or times, UTC)."""

    model_config = ConfigDict(extra="forbid")

    startDate: Param | None = None  # noqa: N815 (the API's camelCase)
    endDate: Param | None = None  # noqa: N815
    functionId: Param | None = None  # noqa: N815
    userId: Param | None = None  # noqa: N815
