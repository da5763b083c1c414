"""The one guarded outbound HTTP client for requests whose URL, host or headers come from users.

`GuardedClient.request` refuses (with `OutboundRefused`, a permanent error) what would let a user
reach the app's own network or abuse the app as a proxy:

- a scheme other than http/https, credentials in the URL;
- a destination whose resolved address is loopback, private (RFC 1918, IPv6 ULA), link-local
  (cloud metadata at 169.254.169.254), CGNAT, multicast, reserved or unspecified, IPv4 embedded
  in IPv6 (mapped, 6to4, NAT64) included, unless private networks are allowed. The check is made
  where the TCP connection is opened, on every resolved address, and the socket connects to the
  checked address itself: there is no second resolution, so DNS rebinding cannot slip through;
- user headers that set `Host`, hop-by-hop headers (`Connection`, `Transfer-Encoding`, …),
  cloud metadata headers (`Metadata-Flavor`, `X-aws-ec2-metadata-token`, …) or carry CR/LF;
- a body larger than `max_bytes` (counted while streaming, never buffered whole) and a request
  running past its total deadline (one clock over connect, send and the whole body).

Network errors stay `httpx.TransportError` (retriable). Redirects are not followed and proxies
from the environment are ignored. respx intercepts the client as any other (it patches httpcore's
connection pool), so tests of callers mock third-party APIs as usual.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import httpx

from inngest_app.outbound.checks import (
    OutboundRefused,
    check_headers,
    check_url,
    is_refused_address,
)
from inngest_app.outbound.transport import GuardedTransport, Resolver, system_resolver
from inngest_app.settings import Settings

__all__ = [
    "GuardedClient",
    "OutboundRefused",
    "Resolver",
    "check_headers",
    "check_url",
    "is_refused_address",
    "system_resolver",
]

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_DEADLINE_S = 30.0


class GuardedClient:
    """The guarded outbound client (built in the app lifespan, shared as `services.outbound`).

    `allow_private` is the default for every call (`QUERY_ALLOW_PRIVATE_NETWORKS`); a call can
    override it. Connections made with and without private networks allowed never share a pool,
    so a kept-alive connection to a private address is not reused by a call that refuses them.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: httpx.Timeout | float = 10.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        deadline_s: float = DEFAULT_DEADLINE_S,
        resolver: Resolver | None = None,
        limits: httpx.Limits | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.max_bytes = max_bytes
        self.deadline_s = deadline_s
        # read on every connection, so a test can play DNS on a running app's client
        self.resolver: Resolver = resolver or system_resolver
        limits = limits or httpx.Limits(max_connections=100, max_keepalive_connections=20)
        self._clients = {
            allowed: httpx.AsyncClient(
                transport=GuardedTransport(
                    allow_private=allowed, resolver=self._resolve, limits=limits
                ),
                timeout=timeout,
                follow_redirects=False,
                trust_env=False,
            )
            for allowed in (False, True)
        }

    @classmethod
    def from_settings(
        cls, settings: Settings, *, resolver: Resolver | None = None
    ) -> GuardedClient:
        """The client configured by `settings` (private networks, timeouts, caps)."""
        timeout = httpx.Timeout(settings.http_timeout_s, connect=min(5.0, settings.http_timeout_s))
        return cls(
            allow_private=settings.query_allow_private_networks,
            timeout=timeout,
            max_bytes=settings.outbound_max_bytes,
            deadline_s=settings.outbound_deadline_s,
            resolver=resolver,
        )

    async def request(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        params: Any = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        max_bytes: int | None = None,
        deadline_s: float | None = None,
        allow_private: bool | None = None,
    ) -> httpx.Response:
        """Send one request and read its body (at most `max_bytes`) within `deadline_s`.

        Raises `OutboundRefused` for what the guard refuses (`too_large`, `deadline` included)
        and `httpx.TransportError` for network trouble."""
        allowed = self.allow_private if allow_private is None else allow_private
        limit = self.max_bytes if max_bytes is None else max_bytes
        deadline = self.deadline_s if deadline_s is None else deadline_s
        try:
            target = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise OutboundRefused("bad_url", f"invalid URL: {exc}") from None
        check_url(target, allow_private=allowed)
        check_headers(headers)
        client = self._clients[allowed]
        clock = asyncio.timeout(deadline)
        try:
            async with clock:
                request = client.build_request(
                    method, target, params=params, headers=headers, json=json, content=content
                )
                return await _send_capped(client, request, limit)
        except TimeoutError:
            if not clock.expired():
                raise
            raise OutboundRefused(
                "deadline", f"the request took longer than {deadline:g}s"
            ) from None

    async def _resolve(self, host: str, port: int) -> list[str]:
        return await self.resolver(host, port)

    async def aclose(self) -> None:
        """Close the connection pools."""
        for client in self._clients.values():
            await client.aclose()

    async def __aenter__(self) -> GuardedClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def _send_capped(
    client: httpx.AsyncClient, request: httpx.Request, limit: int
) -> httpx.Response:
    response = await client.send(request, stream=True)
    try:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise OutboundRefused("too_large", f"the response is larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():  # decoded bytes: a gzip bomb counts in full
            size += len(chunk)
            if size > limit:
                raise OutboundRefused("too_large", f"the response is larger than {limit} bytes")
            chunks.append(chunk)
    finally:
        await response.aclose()
    # what `Response.aread` would have stored, read under our cap instead
    response._content = b"".join(chunks)
    return response
