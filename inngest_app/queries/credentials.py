"""Named query credentials and who may send them where.

A credential (`QUERY_CREDENTIALS__<NAME>`) is bound by the operator to the hosts it belongs to
(`QUERY_CREDENTIAL_HOSTS__<NAME>`, comma-separated host names; `google` defaults to Google's API
host) and optionally to the users who may name it (`QUERY_CREDENTIAL_USERS__<NAME>`,
comma-separated user ids; admins always may). A credential bound to no host is never sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx

from inngest_app.queries.config import GoogleSearchSource, HttpJsonSource
from inngest_app.queries.sources import GOOGLE_CSE_URL
from inngest_app.settings import Settings

GOOGLE_API_HOST = httpx.URL(GOOGLE_CSE_URL).host
DEFAULT_HOSTS = {"google": GOOGLE_API_HOST}


class CredentialRefused(Exception):
    """The query may not use this credential here; `code` and `status` say why for the API."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def normal_host(host: str) -> str:
    """A host name as compared: lower case, no trailing dot, no brackets."""
    return host.strip().strip("[]").rstrip(".").lower()


def _split(value: str | None) -> frozenset[str]:
    return frozenset(part.strip() for part in (value or "").split(",") if part.strip())


@dataclass(frozen=True)
class Credential:
    """A configured credential with its bindings."""

    name: str
    secret: str = field(repr=False)
    hosts: frozenset[str]
    users: frozenset[str] | None  # None: any signed-in user

    def allows_host(self, url: str | httpx.URL) -> bool:
        """True when requests to `url` may carry this credential."""
        try:
            host = httpx.URL(url).host
        except httpx.InvalidURL:
            return False
        return bool(host) and normal_host(host) in self.hosts

    def allows_user(self, user_id: str | None, *, is_admin: bool) -> bool:
        """True when `user_id` may name this credential."""
        return is_admin or self.users is None or (user_id is not None and user_id in self.users)


def lookup(settings: Settings, name: str) -> Credential | None:
    """The credential called `name` (case-insensitive) with its bindings, or None."""
    key = name.lower()
    secret = settings.query_credentials.get(key)
    if secret is None:
        return None
    hosts = settings.query_credential_hosts.get(key, DEFAULT_HOSTS.get(key))
    users = settings.query_credential_users.get(key)
    return Credential(
        name=key,
        secret=secret.get_secret_value(),
        hosts=frozenset(normal_host(h) for h in _split(hosts)),
        users=None if users is None else _split(users),
    )


def first_url(source: HttpJsonSource | GoogleSearchSource) -> str:
    """Where a source's first request goes."""
    return GOOGLE_CSE_URL if isinstance(source, GoogleSearchSource) else str(source.url)


def authorize(
    settings: Settings,
    name: str,
    source: HttpJsonSource | GoogleSearchSource,
    *,
    user_id: str | None,
    is_admin: bool,
) -> Credential:
    """The credential a query names, if it may use it against its source; else
    `CredentialRefused` (unknown, bound to no host or another host, or not this user's)."""
    credential = lookup(settings, name)
    if credential is None:
        raise CredentialRefused("invalid_config", f"credential: unknown credential {name!r}")
    if not credential.hosts:
        raise CredentialRefused(
            "host_not_allowed",
            f"credential {name!r} is bound to no host (QUERY_CREDENTIAL_HOSTS__{name.upper()})",
        )
    if not credential.allows_host(first_url(source)):
        raise CredentialRefused(
            "host_not_allowed",
            f"credential {name!r} may not be sent to {httpx.URL(first_url(source)).host}",
        )
    if not credential.allows_user(user_id, is_admin=is_admin):
        raise CredentialRefused(
            "credential_forbidden", f"you may not use credential {name!r}", status=403
        )
    return credential
