"""What every JSON API route shares: its declared contract, the caller, inputs parsed at the edge,
and errors classified where they arise.

A route declares itself once, next to its handler, with `api_route` (authenticated) or
`public_route`: its method, path and an `Operation` naming the pydantic models of its path
parameters, query, body and 2xx answer. The wrapper then, before the handler runs: authenticates
the caller (401/403), parses path, query and body into those models (400 naming the field; 404 for
a path id that names nothing; 413 past the body limit), and afterwards turns a store error caused
by the input (SQLSTATE 22xxx/23xxx, a PostgREST 4xx) into a 4xx naming the field, and real
unavailability into 503. The handler reads its inputs with `path_of`, `query_of` and `body_of`.

The OpenAPI document (`inngest_app/openapi.py`) and the fuzzer are built from the same `ApiRoute`s,
so a route cannot be served without being described.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from inngest_app.auth import AuthError, Caller, authenticate
from inngest_app.events import describe_validation_error
from inngest_app.inputs import InputError, parse_json
from inngest_app.serve import error_response
from inngest_app.services import NotStartedError, Services
from inngest_app.store import StoreError

logger = logging.getLogger(__name__)

ModelT = TypeVar("ModelT", bound=BaseModel)
CallerHandler = Callable[[Request, Caller], Awaitable[Response]]
PublicHandler = Callable[[Request], Awaitable[Response]]
Method = Literal["GET", "POST", "PUT", "DELETE"]
DEFAULT_MAX_BODY_BYTES = 64 * 1024


class ApiError(Exception):
    """A refusal raised anywhere below a route: rendered as the one JSON error shape."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def response(self) -> JSONResponse:
        """The JSON error answer."""
        return error_response(self.status, self.code, self.message, field=self.field)


def locate(loc: tuple[int | str, ...], value: Any) -> str | None:
    """The dotted path, in the client's own input, of a validation error's `loc`.

    pydantic's `loc` also names union members and tags (`options.k.str`, `source.http.url`);
    those are no step in the input and are left out, so the field reads as the client sent it.
    """
    parts: list[str] = []
    current = value
    for index, part in enumerate(loc):
        last = index == len(loc) - 1
        if isinstance(current, dict) and isinstance(part, str):
            if part in current:
                parts.append(part)
                current = current[part]
            elif last:  # a missing or an unknown key: name it
                parts.append(part)
        elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
            parts.append(str(part))
            current = current[part]
    return ".".join(parts) or None


def invalid(
    exc: ValidationError, value: Any = None, *, code: str = "invalid_body", status: int = 400
) -> ApiError:
    """A validation error as a refusal naming the first bad field (dotted, as sent)."""
    first = exc.errors()[0]["loc"] if exc.errors() else ()
    where = locate(first, value) if value is not None else None
    if where is None:
        where = ".".join(str(part) for part in first) or None
    return ApiError(status, code, describe_validation_error(exc), field=where)


@dataclass(frozen=True)
class Operation:
    """One operation's contract: what it reads, what it answers, who may call it."""

    summary: str
    tag: str
    ok: int = 200
    response: type[BaseModel] | None = None  # the 2xx JSON body (None: described loosely)
    media_type: str = "application/json"  # of the 2xx answer
    params: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_optional: bool = False
    body_code: str = "invalid_body"  # the code of a body that fails its model
    max_body: int = DEFAULT_MAX_BODY_BYTES
    auth: bool = True
    params_status: int = 404  # a malformed path id names nothing
    params_code: str | None = None  # default: not_found (404), invalid_parameter (400)
    errors: Mapping[int, str] = field(default_factory=dict)  # other answers it may give
    raw_body: bool = False  # the handler reads the body itself (a signed webhook)
    # OpenAPI links from the 2xx answer: name -> (method, path, {parameter: "$response.body#/id"})
    links: Mapping[str, tuple[str, str, Mapping[str, str]]] = field(default_factory=dict)


class ApiRoute(Route):
    """A Starlette route carrying its `Operation` for the OpenAPI document."""

    def __init__(
        self, path: str, endpoint: PublicHandler, *, method: Method, operation: Operation
    ) -> None:
        super().__init__(path, endpoint, methods=[method])
        self.method: Method = method
        self.operation = operation


def _model(model: type[ModelT], values: Mapping[str, str], *, status: int, code: str) -> ModelT:
    given = dict(values)
    try:
        return model.model_validate(given)
    except ValidationError as exc:
        raise invalid(exc, given, code=code, status=status) from None


async def _parse(request: Request, op: Operation) -> None:
    if op.params is not None:
        code = op.params_code or ("not_found" if op.params_status == 404 else "invalid_parameter")
        request.state.params = _model(
            op.params, request.path_params, status=op.params_status, code=code
        )
    if op.query is not None:
        request.state.query = _model(
            op.query, request.query_params, status=400, code="invalid_parameter"
        )
    if op.body is None or op.raw_body:
        return
    raw = await request.body()
    if len(raw) > op.max_body:
        raise ApiError(413, "body_too_large", f"request body over {op.max_body} bytes")
    if op.body_optional and not raw.strip():
        raw = b"{}"
    try:
        value = parse_json(raw)
    except InputError as exc:
        raise ApiError(400, exc.code, exc.message, exc.field) from None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_body", "request body must be a JSON object")
    try:
        request.state.body = op.body.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise invalid(exc, value, code=op.body_code) from None


def _state(request: Request, name: str, model: type[ModelT]) -> ModelT:
    value = getattr(request.state, name, None)
    if not isinstance(value, model):
        raise TypeError(f"the route declares no {name} model {model.__name__}")
    return value


def path_of(request: Request, model: type[ModelT]) -> ModelT:
    """The path parameters, as the route's `Operation.params` parsed them."""
    return _state(request, "params", model)


def query_of(request: Request, model: type[ModelT]) -> ModelT:
    """The query, as the route's `Operation.query` parsed it."""
    return _state(request, "query", model)


def body_of(request: Request, model: type[ModelT]) -> ModelT:
    """The body, as the route's `Operation.body` parsed it."""
    return _state(request, "body", model)


def store_refusal(exc: StoreError, path: str) -> JSONResponse:
    """A store error as an answer: 4xx naming the field when the input caused it, else 503."""
    if exc.input_fault:
        logger.info("%s: input refused by the store: %s", path, exc)
        conflict = (exc.sqlstate or "").startswith("23")
        return error_response(
            409 if conflict else 400,
            "conflict" if conflict else "invalid_value",
            f"{exc.field or 'a value'}: the store refused it ({exc.reason})",
            field=exc.field,
        )
    logger.warning("%s: store error: %s", path, exc)
    return error_response(503, "store_unavailable", "storage is unavailable")


def _auth_refusal(exc: AuthError) -> JSONResponse:
    code = "unauthorized" if exc.status == 401 else "forbidden"
    return error_response(
        exc.status, code, str(exc), field="Authorization" if exc.status == 401 else None
    )


def _guard(
    run: Callable[[Request], Awaitable[Response]],
    unavailable: tuple[type[Exception], ...],
) -> PublicHandler:
    async def endpoint(request: Request) -> Response:
        try:
            return await run(request)
        except ApiError as exc:
            return exc.response()
        except AuthError as exc:
            return _auth_refusal(exc)
        except StoreError as exc:
            return store_refusal(exc, request.url.path)
        except NotStartedError as exc:
            logger.warning("%s: %s", request.url.path, exc)
            return error_response(503, "store_unavailable", "storage is unavailable")
        except unavailable as exc:
            logger.warning("%s: backing service error: %s", request.url.path, exc)
            return error_response(503, "store_unavailable", "storage is unavailable")

    return endpoint


def api_route(
    services: Services,
    method: Method,
    path: str,
    handler: CallerHandler,
    operation: Operation,
    *,
    unavailable: tuple[type[Exception], ...] = (),
) -> ApiRoute:
    """An authenticated route: caller first (401/403), then inputs, then `handler`."""

    async def run(request: Request) -> Response:
        caller = await authenticate(request, services.settings)
        await _parse(request, operation)
        return await handler(request, caller)

    return ApiRoute(path, _guard(run, unavailable), method=method, operation=operation)


def public_route(
    method: Method,
    path: str,
    handler: PublicHandler,
    operation: Operation,
    *,
    unavailable: tuple[type[Exception], ...] = (),
) -> ApiRoute:
    """A route without a caller (a webhook, health, dev tools): inputs, then `handler`."""

    async def run(request: Request) -> Response:
        await _parse(request, operation)
        return await handler(request)

    return ApiRoute(path, _guard(run, unavailable), method=method, operation=operation)


def with_caller(
    services: Services,
    handler: CallerHandler,
    *,
    unavailable: tuple[type[Exception], ...] = (),
) -> PublicHandler:
    """An endpoint that authenticates the caller and classifies store faults, without a declared
    contract (kept for routes not yet declared with `api_route`)."""

    async def run(request: Request) -> Response:
        return await handler(request, await authenticate(request, services.settings))

    return _guard(run, unavailable)


async def json_object(
    request: Request, *, optional: bool = False, max_bytes: int | None = None
) -> dict[str, Any] | Response:
    """The request body as a JSON object, or the 400 (413 past `max_bytes`) that says why it is
    not one. With `optional`, an empty body is `{}`."""
    raw = await request.body()
    if max_bytes is not None and len(raw) > max_bytes:
        return error_response(413, "body_too_large", f"request body over {max_bytes} bytes")
    if optional and not raw.strip():
        return {}
    try:
        body = parse_json(raw)
    except InputError as exc:
        return error_response(400, exc.code, exc.message, field=exc.field)
    if not isinstance(body, dict):
        return error_response(400, "invalid_body", "request body must be a JSON object")
    return body
