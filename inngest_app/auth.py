"""Who is calling an HTTP API: a Supabase user (JWT) or an admin (API key).

Both arrive as `Authorization: Bearer <token>`. The admin key is compared in constant time; any
other token must be an HS256 JWT signed with `SUPABASE_JWT_SECRET`, unexpired, with a `sub`.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import jwt
from starlette.requests import Request

from inngest_app.settings import Settings


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


def authenticate(request: Request, settings: Settings) -> Caller:
    """The caller behind `request`, or `AuthError(401)`."""
    token = _bearer(request)
    admin_key = settings.monitoring_api_key
    if admin_key is not None and hmac.compare_digest(
        token.encode(), admin_key.get_secret_value().encode()
    ):
        return Caller(user_id=None, is_admin=True)
    secret = settings.supabase_jwt_secret
    if secret is None:
        raise AuthError(401, "invalid credentials")
    try:
        claims = jwt.decode(
            token,
            secret.get_secret_value(),
            algorithms=["HS256"],
            options={"require": ["exp", "sub"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError(401, "token expired") from None
    except jwt.InvalidTokenError:
        raise AuthError(401, "invalid credentials") from None
    return Caller(user_id=str(claims["sub"]), is_admin=False)
