"""The OpenAPI 3.1 document, generated from the routes' own declarations (never written by hand).

Every `ApiRoute` (see `inngest_app/routes/api.py`) carries an `Operation` naming the pydantic
models of its path, query, body and 2xx answer; their JSON schemas (pydantic emits JSON Schema
2020-12, which OpenAPI 3.1 uses as is) become the document's parameters, request bodies,
responses and `components.schemas`. Refusals share one `Error` schema. The SDK endpoint is
described from the SDK's contract (its bodies are Inngest's, not ours).

Chosen over `spectree`: the routes already hold the models, so the document needs no second
registry or decorator framework, and what the wrapper parses is by construction what the
document says.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.routing import BaseRoute, Route

from inngest_app.routes.api import ApiRoute, Operation

REF = "#/components/schemas/{model}"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every refusal and failure: what went wrong, a stable code, the field.",
    "properties": {
        "error": {"type": "string"},
        "code": {"type": "string"},
        "field": {"type": ["string", "null"]},
    },
    "required": ["error", "code", "field"],
}
ERROR_DESCRIPTIONS = {
    400: "invalid input (the field is named)",
    401: "missing or invalid credentials",
    403: "not allowed",
    404: "not found",
    413: "body too large",
    503: "a backing service is unavailable: retry later",
}
SDK_PATH_NAME = "inngest"  # the Route name `inngest_routes` gives the SDK endpoint


def _models(routes: list[ApiRoute]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    seen: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    for route in routes:
        op = route.operation
        for model in (op.params, op.query, op.body):
            if model is not None:
                seen[(model, "validation")] = None
        if op.response is not None:
            seen[(op.response, "serialization")] = None
    return list(seen)


def _parameters(
    model: type[BaseModel], where: str, schemas: dict[str, Any], ref: dict[str, Any]
) -> list[dict[str, Any]]:
    schema = schemas[ref["$ref"].rsplit("/", 1)[-1]]
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": where,
            "required": where == "path" or name in required,
            "schema": prop,
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def operation_id(method: str, path: str) -> str:
    """`get_api_workspaces_workspace_id` for `GET /api/workspaces/{workspace_id}`."""
    return f"{method.lower()}{path}".replace("/", "_").replace("{", "").replace("}", "")


def _error(status: int, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model="Error")}}},
    }


Refs = dict[tuple[Any, JsonSchemaMode], dict[str, Any]]


def _operation(route: ApiRoute, refs: Refs, schemas: dict[str, Any]) -> dict[str, Any]:
    op: Operation = route.operation
    doc: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": operation_id(route.method, route.path),
    }
    parameters: list[dict[str, Any]] = []
    if op.params is not None:
        parameters += _parameters(op.params, "path", schemas, refs[(op.params, "validation")])
    if op.query is not None:
        parameters += _parameters(op.query, "query", schemas, refs[(op.query, "validation")])
    if parameters:
        doc["parameters"] = parameters
    if op.body is not None:
        doc["requestBody"] = {
            "required": not op.body_optional,
            "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
        }
    if op.media_type == "application/json":
        ok_schema = (
            refs[(op.response, "serialization")] if op.response is not None else {"type": "object"}
        )
    elif op.media_type == "text/event-stream":
        ok_schema = {}  # events, each with its own JSON data
    else:
        ok_schema = {"type": "string"}
    responses: dict[str, Any] = {
        str(op.ok): {"description": "success", "content": {op.media_type: {"schema": ok_schema}}}
    }
    if op.links:
        responses[str(op.ok)]["links"] = {
            name: {"operationId": operation_id(method, path), "parameters": dict(parameters)}
            for name, (method, path, parameters) in op.links.items()
        }
    statuses = {400} if (op.params or op.query or op.body) else set()
    if op.auth:
        statuses |= {401, 403, 503}
        doc["security"] = [{"bearer": []}]
    if op.params is not None:  # a malformed path, or one that names nothing (yet)
        statuses |= {op.params_status, 404}
    if op.body is not None:
        statuses.add(413)
    for status in sorted(statuses):
        responses[str(status)] = _error(status, ERROR_DESCRIPTIONS.get(status, "refused"))
    for status, description in op.errors.items():
        if 200 <= status < 300:
            responses[str(status)] = {
                "description": description,
                "content": {op.media_type: {"schema": ok_schema}},
            }
        else:
            responses[str(status)] = _error(status, description)
    doc["responses"] = responses
    return doc


def _sdk_paths(path: str) -> dict[str, Any]:
    any_json: dict[str, Any] = {"application/json": {"schema": {}}}
    answer = {"description": "the SDK's answer", "content": any_json}
    refused = _error(400, "refused before the SDK: unsigned, stale, malformed, unknown function")
    return {
        method: {
            "summary": summary,
            "tags": ["inngest-sdk"],
            "operationId": f"sdk_{method}",
            **({"requestBody": {"content": any_json}} if method != "get" else {}),
            "responses": {"200": answer, "400": refused, "401": _error(401, "bad signature")},
        }
        for method, summary in (
            ("get", "Introspection (Inngest)"),
            ("put", "Sync: register the app's functions with Inngest"),
            ("post", "A step call from Inngest (signed in cloud mode)"),
        )
    } | {"description": f"The Inngest SDK endpoint ({path}); its bodies are Inngest's protocol."}


def openapi_document(routes: Iterable[BaseRoute], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every declared route (and the SDK endpoint)."""
    all_routes = list(routes)
    api = [r for r in all_routes if isinstance(r, ApiRoute)]
    found, defs = models_json_schema(_models(api), ref_template=REF)
    refs: Refs = dict(found)
    schemas: dict[str, Any] = {**defs.get("$defs", {}), "Error": ERROR_SCHEMA}
    paths: dict[str, dict[str, Any]] = {}
    for route in all_routes:
        if isinstance(route, Route) and route.name == SDK_PATH_NAME:
            paths[route.path] = _sdk_paths(route.path)
    for route in api:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Errors are JSON `{error, code, field}`; user APIs take "
            "`Authorization: Bearer <Supabase JWT or admin key>`.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def described(path: str, method: str, document: dict[str, Any]) -> bool:
    """Whether `document` describes `method path`."""
    return method.lower() in document["paths"].get(path, {})
