"""Who is calling an HTTP API: a Supabase user (JWT) or an admin (API key).

Both arrive as `Authorization: Bearer <token>`. The admin key is compared in constant time; any
other token must be a Supabase user JWT: HS256 signed with `SUPABASE_JWT_SECRET` (the legacy
secret), or RS256/ES256 signed by one of the project's current keys, published at
`<SUPABASE_URL>/auth/v1/.well-known/jwks.json` (fetched by PyJWT's JWKS client, cached). Either
way it must be unexpired, have a `sub`, an `aud` equal to `SUPABASE_JWT_AUDIENCE` and a `role`
among `SUPABASE_JWT_ROLES` (both `authenticated` by default: an `anon` key is no user), and,
when `SUPABASE_URL` is set, the issuer `<SUPABASE_URL>/auth/v1`. The claims are then read through
`UserClaims`: `sub` a user id (not blank, no control characters, at most 255 characters; a UUID
with `SUPABASE_JWT_UUID_SUBS`), `role` a string, `exp` an integer; any other type is a 401.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError
from starlette.requests import Request

from inngest_app.inputs import INT64_MAX, Line, UserId
from inngest_app.settings import Settings

logger = logging.getLogger(__name__)

ASYMMETRIC_ALGORITHMS = ("RS256", "ES256")
JWKS_PATH = "/auth/v1/.well-known/jwks.json"


class AuthError(Exception):
    """The caller is not authenticated (401) or not allowed (403)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Caller:
    """An authenticated caller: an admin sees everything, a user only their own rows."""

    user_id: str | None
    is_admin: bool
    expires_at: float | None = None  # the token's `exp` (unix seconds); None for the admin key

    def require_access_to(self, user_id: str | None) -> None:
        """403 unless this caller may see `user_id`'s data (admins may see anyone's)."""
        if not self.is_admin and user_id != self.user_id:
            raise AuthError(403, "you may only read your own data")


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError(401, "missing credentials: send Authorization: Bearer <token>")
    return token.strip()


@functools.lru_cache(maxsize=8)
def _jwks_client(url: str, timeout_s: float) -> jwt.PyJWKClient:
    # One client per JWKS URL for the process: its key set is cached for 5 minutes, and an
    # unknown `kid` refetches at most once per 30 s (PyJWT's cooldown), so forged kids cost
    # no fetch per request.
    return jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=300, timeout=timeout_s)


async def _verification_key(token: str, settings: Settings) -> tuple[Any, str]:
    """The key that must have signed `token`, and its algorithm (never the token's choice
    between a secret and a public key: HS256 only with the secret, the rest only with JWKS)."""
    try:
        algorithm = jwt.get_unverified_header(token).get("alg")
    except (jwt.InvalidTokenError, TypeError, ValueError, AttributeError):
        raise AuthError(401, "invalid credentials") from None
    if algorithm == "HS256" and settings.supabase_jwt_secret is not None:
        return settings.supabase_jwt_secret.get_secret_value(), algorithm
    if algorithm in ASYMMETRIC_ALGORITHMS and settings.supabase_url:
        client = _jwks_client(
            settings.supabase_url.rstrip("/") + JWKS_PATH, settings.http_timeout_s
        )
        try:
            # PyJWKClient fetches with urllib (blocking): keep it off the event loop.
            signing_key = await asyncio.to_thread(client.get_signing_key_from_jwt, token)
        except jwt.PyJWKClientConnectionError as exc:
            logger.warning("Supabase JWKS unavailable: %s", exc)
            raise AuthError(401, "the token's signing keys are unavailable") from None
        except (jwt.PyJWKClientError, jwt.InvalidTokenError, TypeError, ValueError):
            # a forged header (a list `kid`, ...) is no key of ours, never a 500
            raise AuthError(401, "invalid credentials") from None
        return signing_key.key, algorithm
    raise AuthError(401, "invalid credentials")


async def authenticate(request: Request, settings: Settings) -> Caller:
    """The caller behind `request`, or `AuthError(401)`."""
    token = _bearer(request)
    admin_key = settings.monitoring_api_key
    if admin_key is not None and hmac.compare_digest(
        token.encode(), admin_key.get_secret_value().encode()
    ):
        return Caller(user_id=None, is_admin=True)
    key, algorithm = await _verification_key(token, settings)
    issuer = settings.supabase_issuer
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=settings.supabase_jwt_audience,
            issuer=issuer,
            options={"require": ["exp", "sub", "aud", "role", *(["iss"] if issuer else [])]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError(401, "token expired") from None
    except (jwt.InvalidTokenError, TypeError, ValueError, OverflowError):
        # PyJWT raises TypeError/OverflowError on some claim types (a list `iat`, `exp` 1e309)
        raise AuthError(401, "invalid credentials") from None
    try:
        user = UserClaims.model_validate(claims)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise AuthError(401, f"invalid credentials: claim {where}: {first['msg']}") from None
    if settings.supabase_jwt_uuid_subs and not _is_uuid(user.sub):
        raise AuthError(401, "invalid credentials: claim sub: must be a UUID")
    roles = {role.strip() for role in settings.supabase_jwt_roles.split(",") if role.strip()}
    if user.role not in roles:
        raise AuthError(401, f"a token with role {user.role!r} is not a signed-in user")
    return Caller(user_id=user.sub, is_admin=False, expires_at=float(user.exp))


class UserClaims(BaseModel):
    """The claims a user token must carry, strictly typed (PyJWT checks `exp`, `aud`, `iss`
    values; this checks their types and the user's identity)."""

    model_config = ConfigDict(extra="allow", strict=True)

    sub: UserId
    role: Line
    exp: StrictInt = Field(ge=0, le=INT64_MAX)
    aud: str | list[str]


def _is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False
