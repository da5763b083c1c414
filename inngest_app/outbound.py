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
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpcore
import httpx

from inngest_app.settings import Settings

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_DEADLINE_S = 30.0

# host, port → the addresses it resolves to (IP strings); injectable so tests can play DNS
Resolver = Callable[[str, int], Awaitable[list[str]]]

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",  # computed from the body; a user value would desynchronise the framing
}
_METADATA = {
    "metadata",
    "metadata-flavor",
    "x-google-metadata-request",
    "x-aws-ec2-metadata-token",
    "x-aws-ec2-metadata-token-ttl-seconds",
    "x-identity-header",  # Azure App Service managed identity
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    "forwarded",
}
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")

# beside what `ipaddress` already calls private/reserved: spell out the ones that matter most
_REFUSED_NETWORKS = [
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",  # CGNAT (shared address space)
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local: cloud metadata endpoints
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "::/128",
        "::1/128",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    )
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefused(Exception):
    """A request the guard will not make (permanent: map it to a 400 / NonRetriableError).

    `code` is one of `bad_url`, `bad_scheme`, `bad_header`, `private_address`, `too_large`,
    `deadline`, `host_not_allowed`; the message is safe to show the user."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def is_refused_address(address: str) -> bool:
    """True when `address` (an IP literal) is not a public unicast address."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        # an IPv4 address carried inside (mapped, 6to4, Teredo client, NAT64) is judged too
        embedded = [ip.ipv4_mapped, ip.sixtofour, ip.teredo[1] if ip.teredo else None]
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if any(v4 is not None and is_refused_address(str(v4)) for v4 in embedded):
            return True
    if any(ip in net for net in _REFUSED_NETWORKS if net.version == ip.version):
        return True
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, through the system resolver (getaddrinfo)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:  # unknown name: a network error like any other
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves once, checks every address, and connects to a checked address.

    TLS is started by httpcore on the returned stream with the URL's host name as SNI, and the
    Host header comes from the URL, so only the socket's destination is pinned."""

    def __init__(self, *, allow_private: bool, resolver: Resolver) -> None:
        self._allow_private = allow_private
        self._resolver = resolver
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._resolver(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        if not self._allow_private and any(is_refused_address(a) for a in addresses):
            raise OutboundRefused(
                "private_address", f"{host} resolves to a private or local address"
            )
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None  # noqa: S101 (the loop ran at least once)
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused("bad_url", "unix sockets are not reachable")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool on the guarded network backend."""

    def __init__(self, *, allow_private: bool, resolver: Resolver, limits: httpx.Limits) -> None:
        super().__init__(trust_env=False, limits=limits)
        # same pool as httpx builds, but connecting through the guard (respx patches this class)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(allow_private=allow_private, resolver=resolver),
        )


def check_url(url: httpx.URL, *, allow_private: bool) -> None:
    """Refuse a URL the guard never fetches: bad scheme, user info, a refused literal IP."""
    if url.scheme not in ("http", "https"):
        raise OutboundRefused("bad_scheme", f"scheme {url.scheme!r} is not allowed (http/https)")
    if not url.host:
        raise OutboundRefused("bad_url", "the URL has no host")
    if url.userinfo:
        raise OutboundRefused("bad_url", "credentials in the URL are not allowed")
    host = url.host.strip("[]")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return  # a name: checked once resolved, where the connection is opened
    if not allow_private and is_refused_address(host):
        raise OutboundRefused("private_address", f"{host} is a private or local address")


def check_headers(headers: Mapping[str, str] | None) -> None:
    """Refuse user headers that set Host, hop-by-hop or metadata headers, or break framing."""
    for name, value in (headers or {}).items():
        lowered = name.lower()
        if not _TOKEN.match(name):
            raise OutboundRefused("bad_header", f"header name {name!r} is not valid")
        if lowered == "host" or lowered in _HOP_BY_HOP or lowered.startswith("proxy-"):
            raise OutboundRefused("bad_header", f"header {name!r} cannot be set")
        if lowered in _METADATA:
            raise OutboundRefused("bad_header", f"header {name!r} is not allowed")
        if any(c in value for c in "\r\n\0"):
            raise OutboundRefused("bad_header", f"header {name!r} has a line break")


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
                transport=_GuardedTransport(
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
