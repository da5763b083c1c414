"""The runs API's inputs: one pydantic model for the list's query string, one for the detail's
path, the keyset cursor, and the link to a run in the executor's viewer or Inngest Cloud."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from inngest_app.auth import AuthError, Caller
from inngest_app.inputs import Line, QueryInt, UserId
from inngest_app.monitoring.stats import function_ids
from inngest_app.repos.monitoring_runs import RunsRepo
from inngest_app.settings import Settings

DEFAULT_WINDOW = dt.timedelta(days=30)
MAX_WINDOW = dt.timedelta(days=366)
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
RUN_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,200}$"
CLOUD_RUN_URL = "https://app.inngest.com/env/production/runs/{runId}"
RunStatus = Literal["started", "completed", "failed", "cancelled"]


class RunsParameterError(ValueError):
    """A bad parameter of the runs API, with the field it names."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Cursor(BaseModel):
    """Where a page ended: the last run's start and id (the keyset, newest first)."""

    model_config = ConfigDict(frozen=True)

    started_at: dt.datetime
    run_id: str

    def encode(self) -> str:
        """An opaque URL-safe token."""
        raw = f"{self.started_at.isoformat()}|{self.run_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """The cursor a previous page handed out; `RunsParameterError` for anything else."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            started, run_id = raw.split("|", 1)
            moment = dt.datetime.fromisoformat(started)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise RunsParameterError("cursor", "not a cursor this API handed out") from None
        if moment.tzinfo is None or not run_id or len(run_id) > 200:
            raise RunsParameterError("cursor", "not a cursor this API handed out")
        return cls(started_at=moment, run_id=run_id)


def _moment(value: Any, *, end: bool) -> Any:
    """An ISO date (its whole day) or datetime (naive: UTC); other values pass to pydantic."""
    if not isinstance(value, str):
        return value
    if "T" not in value and len(value) == 10:
        day = dt.date.fromisoformat(value)
        moment = dt.datetime.combine(day, dt.time(), dt.UTC)
        try:
            return moment + dt.timedelta(days=1) if end else moment
        except OverflowError:  # the end of 9999-12-31
            raise ValueError("out of range") from None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


class RunsQuery(BaseModel):
    """`GET /api/inngest/monitoring/runs`: filters, a window `[from, to)` and a page."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    function_id: Line | None = Field(None, alias="functionId", min_length=1, max_length=200)
    status: RunStatus | None = None
    user_id: UserId | None = Field(None, alias="userId", max_length=200)
    start: dt.datetime | None = Field(None, alias="from")
    end: dt.datetime | None = Field(None, alias="to")
    cursor: Line | None = Field(None, max_length=400)
    limit: QueryInt = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)

    @model_validator(mode="before")
    @classmethod
    def _empty_is_absent(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: v for k, v in value.items() if v != ""}
        return value

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> Any:
        return _moment(value, end=False)

    @field_validator("end", mode="before")
    @classmethod
    def _end(cls, value: Any) -> Any:
        return _moment(value, end=True)


class RunsRequest(BaseModel):
    """A validated runs query: the window resolved against now, the cursor decoded."""

    model_config = ConfigDict(frozen=True)

    start: dt.datetime
    end: dt.datetime
    function_id: str | None
    status: RunStatus | None
    user_id: str | None
    after: Cursor | None
    limit: int


class RunPath(BaseModel):
    """`GET /api/inngest/monitoring/runs/{runId}`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str = Field(alias="runId", pattern=RUN_ID_PATTERN)


def first_error(exc: ValidationError) -> RunsParameterError:
    """The first validation error, naming its field."""
    error = exc.errors(include_url=False)[0]
    field = str(error["loc"][0]) if error["loc"] else "query"
    return RunsParameterError(field, str(error["msg"]))


def parse_runs_query(items: Sequence[tuple[str, str]], *, now: dt.datetime) -> RunsRequest:
    """Validate the query string (each parameter at most once; empty ones are absent)."""
    params = single_valued(items)
    try:
        query = RunsQuery.model_validate(params)
    except ValidationError as exc:
        raise first_error(exc) from None
    return resolve_runs_query(query, now=now)


def single_valued(items: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The parameters as a dict; one given more than once is a `RunsParameterError`."""
    params: dict[str, str] = {}
    for name, value in items:
        if name in params:
            raise RunsParameterError(name, "given more than once")
        params[name] = value
    return params


def resolve_runs_query(query: RunsQuery, *, now: dt.datetime) -> RunsRequest:
    """A validated query's window resolved against `now`, and its cursor decoded."""
    end = query.end or now
    try:
        start = query.start or end - DEFAULT_WINDOW
    except OverflowError:  # `to` in the first days of year 1
        raise RunsParameterError("to", "out of range") from None
    if start >= end:
        raise RunsParameterError("from", "must be before to")
    if end - start > MAX_WINDOW:
        raise RunsParameterError("from", f"the window may span at most {MAX_WINDOW.days} days")
    after = Cursor.decode(query.cursor) if query.cursor else None
    return RunsRequest(
        start=start,
        end=end,
        function_id=query.function_id,
        status=query.status,
        user_id=query.user_id,
        after=after,
        limit=query.limit,
    )


def scope_runs(caller: Caller, request: RunsRequest) -> RunsRequest:
    """The stats' scoping: a user reads only their own runs (another user's is 403)."""
    if caller.is_admin:
        return request
    if request.user_id is not None and request.user_id != caller.user_id:
        raise AuthError(403, "you may only read your own runs")
    return request.model_copy(update={"user_id": caller.user_id})


def run_url_template(settings: Settings) -> str:
    """`MONITORING_RUN_URL`, else the executor's viewer in dev mode, else Inngest Cloud."""
    if settings.monitoring_run_url:
        return settings.monitoring_run_url
    if settings.inngest_dev:
        return f"{settings.inngest_base_url.rstrip('/')}/#run={{runId}}"
    return CLOUD_RUN_URL


def run_url_label(settings: Settings) -> str:
    """What the run link opens, for its text."""
    if settings.monitoring_run_url:
        return "the configured run page"
    return "the executor's run viewer" if settings.inngest_dev else "Inngest Cloud"


def run_url(settings: Settings, run_id: str) -> str:
    """The link to one run: `{runId}` in the template, URL-encoded."""
    return run_url_template(settings).replace("{runId}", urllib.parse.quote(run_id, safe=""))


async def list_runs(repo: RunsRepo, settings: Settings, request: RunsRequest) -> dict[str, Any]:
    """One page of runs, newest first, and the cursor of the next page (None on the last)."""
    rows = await repo.page(
        start=request.start,
        end=request.end,
        function_ids=function_ids(request.function_id, settings.inngest_app_id),
        user_id=request.user_id,
        status=request.status,
        after=(request.after.started_at, request.after.run_id) if request.after else None,
        limit=request.limit + 1,  # one more tells whether a next page exists
        bill_all_steps=settings.inngest_bill_all_steps,
    )
    page, more = rows[: request.limit], len(rows) > request.limit
    next_cursor = None
    if more:
        last = page[-1]
        moment = dt.datetime.fromisoformat(str(last["startedAt"]))
        next_cursor = Cursor(started_at=moment, run_id=str(last["runId"])).encode()
    return {
        "runs": page,
        "nextCursor": next_cursor,
        "from": request.start.isoformat(),
        "to": request.end.isoformat(),
        "limit": request.limit,
    }


async def get_run(
    repo: RunsRepo, settings: Settings, run_id: str, *, user_id: str | None
) -> dict[str, Any] | None:
    """One run and its link in the executor's viewer or Inngest Cloud; None if not found."""
    found = await repo.detail(
        run_id=run_id, user_id=user_id, bill_all_steps=settings.inngest_bill_all_steps
    )
    if found is not None:
        found["runUrl"] = run_url(settings, run_id)
        found["runUrlLabel"] = run_url_label(settings)
    return found
