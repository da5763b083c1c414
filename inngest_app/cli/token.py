"""`python -m inngest_app token --user <id>`: a user's JWT for the configured secret.

A newcomer's credential for the user APIs (the monitoring stats and runs, workspaces...): it is
signed with `SUPABASE_JWT_SECRET` (HS256) and carries what `inngest_app.auth` checks (`sub`,
`aud`, `role`, `exp`, and `iss` with `SUPABASE_URL`). Outside dev mode it is refused unless
`--force`: a token minted by hand is a dev tool, not how users sign in. In dev mode without a
secret it uses `DEV_JWT_SECRET`, the one `make dev` gives the app when none is set.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any

import jwt

from inngest_app.cli.support import CommandError, command_settings
from inngest_app.settings import DEV_JWT_SECRET, Settings

DEFAULT_TTL_S = 12 * 3600
MAX_TTL_S = 30 * 86400
_USER = re.compile(r"^[^\s\x00-\x1f\x7f]{1,200}$")


def _user_id(value: str) -> str:
    if not _USER.match(value):
        raise argparse.ArgumentTypeError("--user: 1 to 200 characters, no spaces")
    return value


def _ttl(value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--ttl: not a number of seconds: {value!r}") from None
    if not 60 <= seconds <= MAX_TTL_S:
        raise argparse.ArgumentTypeError(f"--ttl: between 60 and {MAX_TTL_S} seconds")
    return seconds


def register(subparsers: Any) -> None:
    """Add the `token` command."""
    parser = subparsers.add_parser("token", help="print a user JWT for the configured secret")
    parser.add_argument("--user", required=True, type=_user_id, help="the user id (`sub`)")
    parser.add_argument(
        "--ttl", type=_ttl, default=DEFAULT_TTL_S, help="seconds it stays valid (12 h)"
    )
    parser.add_argument(
        "--force", action="store_true", help="mint one outside dev mode (INNGEST_DEV unset)"
    )
    parser.set_defaults(handler=run)


def user_token(settings: Settings, user_id: str, *, ttl_s: int, now: float) -> str:
    """A token `inngest_app.auth.authenticate` accepts as `user_id`'s."""
    secret = settings.supabase_jwt_secret
    if secret is None and not settings.inngest_dev:
        raise CommandError("SUPABASE_JWT_SECRET is not set: the app cannot verify user tokens")
    key = secret.get_secret_value() if secret is not None else DEV_JWT_SECRET
    role = next((r.strip() for r in settings.supabase_jwt_roles.split(",") if r.strip()), "")
    claims: dict[str, Any] = {
        "sub": user_id,
        "aud": settings.supabase_jwt_audience,
        "role": role or "authenticated",
        "iat": int(now),
        "exp": int(now) + ttl_s,
    }
    if settings.supabase_issuer:
        claims["iss"] = settings.supabase_issuer
    return jwt.encode(claims, key, algorithm="HS256")


async def run(args: argparse.Namespace) -> int:
    """Print the token on stdout (and nothing else there)."""
    settings = command_settings()
    if not settings.inngest_dev and not args.force:
        raise CommandError(
            "not in dev mode (INNGEST_DEV unset): a hand-made user token is a dev tool; "
            "add --force to mint one anyway"
        )
    token = user_token(settings, args.user, ttl_s=args.ttl, now=time.time())
    print(token)
    if settings.supabase_jwt_secret is None:
        print(
            "note: signed with make dev's dev secret (SUPABASE_JWT_SECRET is unset)",
            file=sys.stderr,
        )
    return 0
