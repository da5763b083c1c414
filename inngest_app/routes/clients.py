"""A user's own clients (named in runs) and notification channels (Telegram chats, webhooks).

    POST   /api/clients            {"slug", "name"}           201 (the same slug again renames)
    GET    /api/clients                                        200 {"clients": [...]}
    DELETE /api/clients/{id}                                   204, or 404 if not the caller's
    POST   /api/channels           {"channel", "target"}      201 (the same one again: same row)
    GET    /api/channels                                       200 {"channels": [...]}
    DELETE /api/channels/{id}                                  204, or 404 if not the caller's

A user sees and deletes only their own; an admin caller names the user (`userId` in the body or
query). A webhook target passes the outbound guard here (scheme, no credentials, no private
address literal) and again when a completion is delivered (every resolved address). At most
`MAX_CLIENTS` clients and `MAX_CHANNELS` channels per user (409 past that). A refusal writes
nothing.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, Literal, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute

from inngest_app.auth import Caller
from inngest_app.inputs import Line, Text, UserId
from inngest_app.outbound import OutboundRefused, Resolver, check_url, is_refused_address
from inngest_app.repos.contacts import ContactsRepo
from inngest_app.repos.skills import Channel, Client
from inngest_app.routes.api import (
    ApiRoute,
    Method,
    Operation,
    api_route,
    body_of,
    path_of,
    query_of,
)
from inngest_app.serve import error_response
from inngest_app.services import Services

MAX_CLIENTS = 100
MAX_CHANNELS = 20  # notify-completion delivers to at most 20 channels
MAX_BODY_BYTES = 8 * 1024
RESOLVE_TIMEOUT_S = 2.0


class ClientRequest(BaseModel):
    """Body of `POST /api/clients`."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    slug: Annotated[Line, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    user_id: UserId | None = Field(None, alias="userId")


class ChannelRequest(BaseModel):
    """Body of `POST /api/channels`: a Telegram chat id (or @channel) or an http(s) webhook."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    channel: Literal["telegram", "webhook"]
    target: Annotated[Text, Field(min_length=1, max_length=2048)]
    user_id: UserId | None = Field(None, alias="userId")


class OwnerQuery(BaseModel):
    """Query of the lists and deletes: whose (an admin names the user)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    user_id: UserId | None = Field(None, alias="userId")


class ItemPath(BaseModel):
    """Path of `DELETE /api/{clients,channels}/{id}`."""

    id: uuid.UUID


_TELEGRAM_CHAT = r"^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$"


def _present_client(client: Client) -> dict[str, Any]:
    created = client.created_at.isoformat() if client.created_at else None
    return {"id": str(client.id), "slug": client.slug, "name": client.name, "createdAt": created}


def _present_channel(channel: Channel) -> dict[str, Any]:
    created = channel.created_at.isoformat() if channel.created_at else None
    return {
        "id": str(channel.id),
        "channel": channel.channel,
        "target": channel.target,
        "createdAt": created,
    }


def _owner(caller: Caller, named: str | None) -> str | Response:
    """Whose clients/channels: the caller's own, or the user an admin names."""
    if named is not None and not caller.is_admin and named != caller.user_id:
        return error_response(403, "forbidden", "you may only manage your own", field="userId")
    owner = named if named is not None else caller.user_id
    if owner is None:
        return error_response(
            400, "invalid_body", "userId: required for admin callers", field="userId"
        )
    return owner


async def _check_target(
    request: ChannelRequest, *, allow_private: bool, resolver: Resolver
) -> Response | None:
    """A Telegram chat id, or a URL the outbound guard would fetch: scheme, no credentials, no
    private address (a literal, or what the name resolves to now; a name that does not resolve
    now is checked again at delivery)."""
    if request.channel == "telegram":
        if not re.match(_TELEGRAM_CHAT, request.target):
            return error_response(
                400, "invalid_target", "target: a Telegram chat id or @channel", field="target"
            )
        return None
    try:
        url = httpx.URL(request.target)
        check_url(url, allow_private=allow_private)
    except OutboundRefused as exc:
        return error_response(400, exc.code, f"target: {exc.message}", field="target")
    except httpx.InvalidURL:
        return error_response(400, "bad_url", "target: not a URL", field="target")
    if allow_private:
        return None
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):
            addresses = await resolver(url.host, url.port or (443 if url.scheme == "https" else 80))
    except (OSError, TimeoutError):
        return None
    if any(is_refused_address(a) for a in addresses):
        message = f"target: {url.host} resolves to a private or local address"
        return error_response(400, "private_address", message, field="target")
    return None


Handler = Callable[[Request, Caller, ContactsRepo], Awaitable[Response]]
Item = TypeVar("Item", Client, Channel)


def routes(services: Services) -> list[BaseRoute]:
    """The clients and channels routes."""

    def guarded(method: Method, path: str, handler: Handler, op: Operation) -> ApiRoute:
        async def with_repo(request: Request, caller: Caller) -> Response:
            return await handler(request, caller, ContactsRepo(services.transport))

        return api_route(services, method, path, with_repo, op)

    async def create_client(request: Request, caller: Caller, repo: ContactsRepo) -> Response:
        ask = body_of(request, ClientRequest)
        owner = _owner(caller, ask.user_id)
        if isinstance(owner, Response):
            return owner
        client = await repo.create_client(
            owner_id=owner, slug=ask.slug, name=ask.name, max_clients=MAX_CLIENTS
        )
        if client is None:
            return error_response(409, "limit_reached", f"at most {MAX_CLIENTS} clients a user")
        return JSONResponse(_present_client(client), status_code=201)

    async def create_channel(request: Request, caller: Caller, repo: ContactsRepo) -> Response:
        ask = body_of(request, ChannelRequest)
        owner = _owner(caller, ask.user_id)
        if isinstance(owner, Response):
            return owner
        refused = await _check_target(
            ask,
            allow_private=services.settings.skill_webhooks_allow_private,
            resolver=services.outbound.resolver,
        )
        if refused is not None:
            return refused
        channel = await repo.create_channel(
            user_id=owner, channel=ask.channel, target=ask.target, max_channels=MAX_CHANNELS
        )
        if channel is None:
            return error_response(409, "limit_reached", f"at most {MAX_CHANNELS} channels a user")
        return JSONResponse(_present_channel(channel), status_code=201)

    def lister(
        key: str,
        fetch: Callable[[ContactsRepo, str], Awaitable[Sequence[Item]]],
        show: Callable[[Item], dict[str, Any]],
    ) -> Handler:
        async def list_items(request: Request, caller: Caller, repo: ContactsRepo) -> Response:
            owner = _owner(caller, query_of(request, OwnerQuery).user_id)
            if isinstance(owner, Response):
                return owner
            return JSONResponse({key: [show(item) for item in await fetch(repo, owner)]})

        return list_items

    def deleter(kind: str) -> Handler:
        async def delete(request: Request, caller: Caller, repo: ContactsRepo) -> Response:
            item_id = path_of(request, ItemPath).id
            owner = _owner(caller, query_of(request, OwnerQuery).user_id)
            if isinstance(owner, Response):
                return owner
            if kind == "client":
                gone = await repo.delete_client(item_id, owner)
            else:
                gone = await repo.delete_channel(item_id, owner)
            if not gone:
                return error_response(404, "not_found", f"no such {kind}", field="id")
            return Response(status_code=204)

        return delete

    def create(summary: str, body: type[BaseModel]) -> Operation:
        return Operation(
            summary,
            "notifications",
            ok=201,
            body=body,
            max_body=MAX_BODY_BYTES,
            errors={403: "another user's", 409: "limit reached"},
        )

    def listing(summary: str) -> Operation:
        return Operation(summary, "notifications", query=OwnerQuery, errors={403: "another user's"})

    def removal(summary: str) -> Operation:
        return Operation(
            summary,
            "notifications",
            ok=204,
            params=ItemPath,
            params_status=400,
            query=OwnerQuery,
            errors={403: "another user's", 404: "no such item of this user"},
        )

    list_clients = lister("clients", ContactsRepo.list_clients, _present_client)
    list_channels = lister("channels", ContactsRepo.list_channels, _present_channel)
    return [
        guarded("POST", "/api/clients", create_client, create("Create a client", ClientRequest)),
        guarded("GET", "/api/clients", list_clients, listing("The user's clients")),
        guarded("DELETE", "/api/clients/{id}", deleter("client"), removal("Delete a client")),
        guarded("POST", "/api/channels", create_channel, create("Add a channel", ChannelRequest)),
        guarded("GET", "/api/channels", list_channels, listing("The user's channels")),
        guarded("DELETE", "/api/channels/{id}", deleter("channel"), removal("Remove a channel")),
    ]
