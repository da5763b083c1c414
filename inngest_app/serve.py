"""Starlette integration for the Inngest SDK, shaped like the SDK's own `inngest/fast_api.py`.

`inngest_routes()` hands GET (introspection), PUT (sync) and POST (run a step) to the SDK's
`CommHandler` and turns its `CommResponse` into a Starlette response, streaming included.

Before the SDK sees a request, the adapter refuses what the SDK would otherwise accept or answer
with a 500: in cloud mode a signature whose timestamp is more than `max_signature_age_s` away from
now (the SDK checks the HMAC but not the age, so a captured request could be replayed forever);
a POST whose body is not a JSON object, whose `fnId` is missing or unknown, or which comes from
the wrong kind of server. Each refusal is a 4xx with a JSON `{"error", "code"}` body.

Sync (PUT) in cloud mode: an unsigned PUT is refused (401) unless `allow_unsigned_sync`; a signed
in-band sync (Inngest Cloud's dashboard) answers with the app's signed configuration, for the URL
in its signed body. An out-of-band sync registers the URL at `serve_origin`, or, only when
`trust_proxy_headers`, the origin in `X-Forwarded-Proto`/`X-Forwarded-Host`: never the `Host`
header of a request anyone can send.
"""

from __future__ import annotations

import json
import time
import typing
import urllib.parse
from typing import Any

import inngest
import pydantic
from inngest._internal import comm_lib, const, net, server_lib, transforms
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from inngest_app import sdk_json
from inngest_app.inputs import InputError, parse_json

FRAMEWORK = server_lib.Framework.FAST_API  # the closest framework the SDK's enum knows
DEFAULT_MAX_SIGNATURE_AGE_S = 300


def inngest_routes(
    client: inngest.Inngest,
    functions: list[inngest.Function[typing.Any]],
    *,
    serve_path: str = const.DEFAULT_SERVE_PATH,
    serve_origin: str | None = None,
    public_path: str | None = None,
    streaming: const.Streaming | None = None,
    max_signature_age_s: int = DEFAULT_MAX_SIGNATURE_AGE_S,
    allow_unsigned_sync: bool = False,
    trust_proxy_headers: bool = False,
    clock: typing.Callable[[], float] = time.time,
) -> list[Route]:
    """The route serving `functions` at `serve_path` for GET, PUT and POST."""
    cloud = client._mode == server_lib.ServerKind.CLOUD
    handler = comm_lib.CommHandler(
        client=client,
        # Dev mode (None): the Dev Server's PUTs are unsigned. Cloud: signed unless allowed.
        enable_unauthed_sync=allow_unsigned_sync if cloud else None,
        framework=FRAMEWORK,
        functions=functions,
        streaming=streaming,
    )
    known_ids = _function_ids(client, functions)

    async def endpoint(request: Request) -> Response:
        try:
            return await _endpoint(request)
        finally:
            sdk_json.forget_request_body()  # the parse `_refuse_post` kept for the SDK

    async def _endpoint(request: Request) -> Response:
        headers = dict(request.headers.items())
        if cloud:
            signed = _SIGNATURE_HEADER in headers
            if not signed and (
                request.method == "POST" or (request.method == "PUT" and not allow_unsigned_sync)
            ):
                # Refused before the body is read: unsigned callers cost us nothing.
                return error_response(401, "sig_verification_failed", "the request is unsigned")
            refusal = _stale_signature(headers, now=clock(), max_age_s=max_signature_age_s)
            if refusal is not None:
                return refusal
            if (
                request.method == "PUT"
                and not _in_band(headers)
                and serve_origin is None
                and not trust_proxy_headers
            ):
                return error_response(
                    400,
                    "serve_origin_required",
                    "set INNGEST_SERVE_ORIGIN to sync out of band (or sync in band from Inngest "
                    "Cloud, or run `python -m inngest_app register`)",
                )
        body = await request.body()
        if request.method == "POST":
            refusal = _refuse_post(request, body, headers, known_ids, cloud=cloud)
            if refusal is not None:
                # Unsigned callers learn nothing about our functions: auth comes first.
                if cloud and _bad_signature(handler, body, headers):
                    return error_response(401, "sig_verification_failed", "invalid signature")
                return refusal

        comm_req = comm_lib.CommRequest(
            body=body,
            headers=headers,
            public_path=public_path,
            query_params=dict(request.query_params.items()),
            raw_request=request,
            request_url=_request_url(request, trust_proxy_headers=trust_proxy_headers),
            serve_origin=serve_origin,
            serve_path=serve_path,
        )
        if request.method == "GET":
            comm_res = handler.get_sync(comm_req)
        elif request.method == "PUT":
            comm_res = await handler.put(comm_req)
            if comm_res.status_code < 400 and _refused_registration(comm_res.body):
                # The SDK (0.5) relays Inngest's refusal of an out-of-band sync with a 200.
                comm_res.status_code = 502
            elif comm_res.status_code == 500 and _invalid_sync_body(comm_res.body):
                # A signed in-band sync whose body is not one: the caller's fault, not ours.
                comm_res.status_code = 400
            elif comm_res.status_code == 500:
                # Registering with Inngest failed (unreachable, refused): an upstream fault.
                comm_res.status_code = 502
        else:
            comm_res = await handler.post(comm_req)
            if comm_res.stream is None:  # answered: the SDK is done with the call's memos
                sdk_json.forget_request_body(release_steps=True)
        return _to_response(client, comm_res)

    return [Route(serve_path, endpoint, methods=["GET", "PUT", "POST"], name="inngest")]


_SIGNATURE_HEADER = server_lib.HeaderKey.SIGNATURE.value.lower()


def _in_band(headers: dict[str, str]) -> bool:
    kind = headers.get(server_lib.HeaderKey.SYNC_KIND.value.lower())
    return kind == server_lib.SyncKind.IN_BAND.value


def _request_url(request: Request, *, trust_proxy_headers: bool) -> str:
    """The URL the request was made to: as the proxy says when trusted, else as received
    (in cloud mode that URL is only used when `serve_origin` overrides its origin)."""
    if not trust_proxy_headers:
        return str(request.url)

    def first(name: str) -> str:
        return request.headers.get(name, "").split(",")[0].strip()

    scheme = first("x-forwarded-proto") or request.url.scheme
    host = first("x-forwarded-host") or request.url.netloc
    return str(request.url.replace(scheme=scheme, netloc=host))


def _invalid_sync_body(body: object) -> bool:
    return isinstance(body, dict) and body.get("name") == "ValidationError"


def _refused_registration(body: object) -> bool:
    return isinstance(body, dict) and bool(body.get("error"))


def _function_ids(
    client: inngest.Inngest, functions: list[inngest.Function[typing.Any]]
) -> set[str]:
    """Every fnId the SDK would resolve: composite ids, failure handlers, and the bare forms."""
    ids: set[str] = set()
    for fn in functions:
        for fn_id in (fn.get_id(), fn.on_failure_fn_id):
            if fn_id:
                ids.add(fn_id)
                ids.add(fn_id.removeprefix(f"{client.app_id}-"))
    return ids


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The one error shape: `{"error": message, "code": code, "field": dotted path or null}`."""
    return {"error": message, "code": code, "field": field}


def error_response(
    status: int, code: str, message: str, *, field: str | None = None
) -> JSONResponse:
    """A JSON error answer in the one shape every endpoint of this service uses."""
    return JSONResponse(error_body(code, message, field), status_code=status)


def _bad_signature(handler: comm_lib.CommHandler, body: bytes, headers: dict[str, str]) -> bool:
    result = net.validate_request_sig(
        body=body,
        headers=net.normalize_headers(headers),
        mode=server_lib.ServerKind.CLOUD,
        signing_key=handler._signing_key,
        signing_key_fallback=handler._signing_key_fallback,
    )
    return isinstance(result, Exception)


def _stale_signature(headers: dict[str, str], *, now: float, max_age_s: int) -> Response | None:
    header = headers.get(_SIGNATURE_HEADER)
    if header is None:
        return None  # the SDK answers unsigned requests itself
    stamp = urllib.parse.parse_qs(header).get("t", [""])[0]
    try:
        signed_at = int(stamp)
    except ValueError:
        return error_response(401, "sig_verification_failed", "signature timestamp is malformed")
    if abs(now - signed_at) > max_age_s:
        return error_response(
            401, "sig_verification_failed", f"signature timestamp is outside {max_age_s}s of now"
        )
    return None


def _sdk_body(body: bytes) -> object:
    """A step call's body by the API's JSON rules, depth aside: step outputs are the functions'
    own data, and nesting the parser survives is the SDK's to handle."""
    return parse_json(body, max_depth=None)


def _refuse_post(
    request: Request,
    body: bytes,
    headers: dict[str, str],
    known_ids: set[str],
    *,
    cloud: bool,
) -> Response | None:
    params = request.query_params
    if params.get(server_lib.QueryParamKey.PROBE.value):
        return None  # trust probes carry no function
    kind = headers.get(server_lib.HeaderKey.SERVER_KIND.value.lower())
    expected = (
        server_lib.ServerKind.CLOUD.value if cloud else server_lib.ServerKind.DEV_SERVER.value
    )
    if kind is not None and kind != expected:
        return error_response(
            400,
            "server_kind_mismatch",
            f"this app runs in {expected} mode, request came from {kind}",
        )
    fn_id = params.get(server_lib.QueryParamKey.FUNCTION_ID.value)
    if not fn_id:
        return error_response(400, "query_param_missing", "the fnId query parameter is required")
    if fn_id not in known_ids:
        return error_response(404, "function_not_found", f"function {fn_id} not found")
    try:
        # kept for the SDK (read once, not thrice); what the fast path cannot read is read by
        # the API's own parser, which says why it refuses it
        parsed = sdk_json.load_request_body(body, fallback=_sdk_body)
    except RecursionError:
        return error_response(400, "body_invalid", "JSON nested too deep")
    except InputError as exc:
        return error_response(400, "body_invalid", exc.message, field=exc.field)
    except ValueError:  # the fast path's own parse: no JSON at all
        return error_response(400, "body_invalid", "request body is not valid JSON")
    if not isinstance(parsed, dict):
        return error_response(400, "body_invalid", "request body must be a JSON object")
    try:  # the SDK answers a malformed call with a 500: refuse it here as what it is
        call = sdk_json.validate_request(parsed)  # kept for the SDK's own `from_raw`
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]["loc"] if exc.errors() else ()
        where = ".".join(str(part) for part in first) or None
        return error_response(
            400, "body_invalid", f"not a step call: {exc.errors()[0]['msg']}", field=where
        )
    if call.events is None and not call.use_api:  # Inngest sends them, or says to fetch them
        return error_response(400, "body_invalid", "not a step call: no events", field="events")
    return None


def _with_error_shape(status: int, body: object) -> object:
    """An SDK refusal (`{"code","message"}`, `{"message":"Unauthorized"}`) in the service's error
    shape, the SDK's own fields kept beside it (Inngest reads them)."""
    if status < 400 or not isinstance(body, dict) or "error" in body:
        return body
    message = body.get("message")
    code = body.get("code")
    if status == 401 and code in (None, "unknown"):
        code = "unauthorized"
    return {
        **body,
        **error_body(
            str(code or "sdk_error"),
            str(message or "the request was refused"),
            field=None,
        ),
    }


def _to_response(client: inngest.Inngest, comm_res: comm_lib.CommResponse) -> Response:
    if comm_res.stream is not None:
        return StreamingResponse(
            comm_res.stream(), headers=comm_res.headers, status_code=comm_res.status_code
        )
    body = transforms.dump_json(_with_error_shape(comm_res.status_code, comm_res.body))
    if isinstance(body, Exception):
        comm_res = comm_lib.CommResponse.from_error(client.logger, body)
        body = json.dumps(_with_error_shape(comm_res.status_code, comm_res.body))
    return Response(
        content=body.encode("utf-8"), headers=comm_res.headers, status_code=comm_res.status_code
    )
