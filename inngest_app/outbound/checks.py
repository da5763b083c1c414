"""What the guard refuses before a request leaves: bad URLs and schemes, literal addresses that
are not public unicast, and user headers that would set Host, hop-by-hop or metadata headers."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

import httpx

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
