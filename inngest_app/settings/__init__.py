"""Settings, read from the environment once and validated at start.

Every variable the service reads is a field of `Settings` (`docs/configuration.md` lists them
with their defaults), declared by part: `platform` (Inngest, storage, the HTTP edge, monitoring) and
`families` (queries, Stripe, GitHub, skills); the checks across parts live here.
`load_settings()` turns a validation failure into `SettingsError`, whose message names each
missing or malformed variable, so start-up fails with one readable line instead of a traceback.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Collection
from typing import Any

from pydantic import SecretStr, ValidationError, model_validator
from pydantic_settings import SettingsConfigDict

from inngest_app.settings.families import DEFAULT_SKILLS_DIR, FamilySettings
from inngest_app.settings.platform import DEFAULT_DEV_SERVER_URL, LogFormat, PlatformSettings

__all__ = [
    "CLOUD_KEYS",
    "DEFAULT_DEV_SERVER_URL",
    "DEFAULT_SKILLS_DIR",
    "DEV_JWT_SECRET",
    "LogFormat",
    "Settings",
    "SettingsError",
    "load_settings",
]

# Keys that only a production deployment holds; dev mode refuses to start with any of them.
PRODUCTION_KEY_PREFIXES: dict[str, tuple[str, ...]] = {
    "INNGEST_SIGNING_KEY": ("signkey-prod-",),
    "INNGEST_SIGNING_KEY_FALLBACK": ("signkey-prod-",),
    "STRIPE_API_KEY": ("sk_live_", "rk_live_"),
}
CLOUD_KEYS = ("INNGEST_SIGNING_KEY", "INNGEST_EVENT_KEY")
# The dotenv file `load_settings` reads when present; `ENV_FILE=` (empty) reads none.
DEFAULT_ENV_FILE = ".env"
# The user-token secret `make dev` gives the app when none is set (`python -m inngest_app token`
# signs with it); public, so refused outside dev mode.
DEV_JWT_SECRET = "inngest-app-dev-mode-jwt-secret-never-for-production"  # noqa: S105
# Which cloud keys the command being started needs (`load_settings(cloud_keys=...)`).
_cloud_keys_needed: contextvars.ContextVar[Collection[str]] = contextvars.ContextVar(
    "cloud_keys_needed", default=CLOUD_KEYS
)


class SettingsError(Exception):
    """The environment does not describe a runnable service."""


class Settings(FamilySettings, PlatformSettings):
    """The service's configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=None,
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
    )

    @model_validator(mode="after")
    def _no_empty_secrets(self) -> Settings:
        # An empty key would sign and verify with "" (a forged call then passes): refuse it.
        empty = [name for name, value in self._secrets() if not value.strip()]
        if self.stripe_webhook_secret is not None and not self.stripe_webhook_secrets:
            empty.append("STRIPE_WEBHOOK_SECRET")
        if empty:
            raise ValueError(
                f"{', '.join(sorted(set(empty)))}: empty or blank; unset it or give the real value"
            )
        return self

    @model_validator(mode="after")
    def _cloud_needs_keys(self) -> Settings:
        if not self.inngest_dev:
            secret = self.supabase_jwt_secret
            if secret is not None and secret.get_secret_value() == DEV_JWT_SECRET:
                raise ValueError(
                    "SUPABASE_JWT_SECRET is make dev's public dev secret: dev mode only"
                )
            missing = [
                name
                for name, value in (
                    ("INNGEST_SIGNING_KEY", self.inngest_signing_key),
                    ("INNGEST_EVENT_KEY", self.inngest_event_key),
                )
                if value is None and name in _cloud_keys_needed.get()
            ]
            if missing:
                raise ValueError(
                    f"cloud mode (INNGEST_DEV unset) requires {' and '.join(missing)}; "
                    "set INNGEST_DEV=1 for local development"
                )
        if (self.supabase_url is None) != (self.supabase_service_role_key is None) and (
            self.database_url is None or self.supabase_url is None
        ):
            # With a DSN, SUPABASE_URL alone is fine: it names the JWT issuer and its JWKS.
            raise ValueError("SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY must be set together")
        if self.skill_provider == "anthropic" and self.anthropic_api_key is None:
            raise ValueError("SKILL_PROVIDER=anthropic requires ANTHROPIC_API_KEY")
        if self.skill_provider == "openai" and not (self.openai_base_url or self.openai_api_key):
            raise ValueError("SKILL_PROVIDER=openai requires OPENAI_BASE_URL or OPENAI_API_KEY")
        return self

    def check_dev_mode(self) -> None:
        """`SettingsError` when dev mode (no signature checks, an open test-event route) would
        serve with production keys. Checked when the app starts, not by every tool that loads
        settings (migrations force dev mode only to skip the Inngest keys)."""
        if not self.inngest_dev:
            return
        live = [
            name
            for name, value in self._secrets()
            if value.startswith(PRODUCTION_KEY_PREFIXES.get(name, ()))
        ]
        if live:
            raise SettingsError(
                f"dev mode (INNGEST_DEV=1) refuses production keys: {', '.join(live)}; "
                "dev mode checks no signatures and must never hold them"
            )

    def _secrets(self) -> list[tuple[str, str]]:
        """(environment variable, value) of every secret setting that is set."""
        found: list[tuple[str, str]] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                found.append((name.upper(), value.get_secret_value()))
            elif isinstance(value, dict):
                found.extend(
                    (f"{name.upper()}__{key.upper()}", v.get_secret_value())
                    for key, v in value.items()
                    if isinstance(v, SecretStr)
                )
        return found

    def secret_values(self) -> list[str]:
        """Every configured secret, for the log redaction filter."""
        values: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                values.append(value.get_secret_value())
            elif isinstance(value, dict):
                values.extend(
                    v.get_secret_value() for v in value.values() if isinstance(v, SecretStr)
                )
        values.extend(self.stripe_webhook_secrets)  # each one alone, not only the joined list
        return [v for v in values if len(v) >= 6]


def _describe(error: dict[str, Any]) -> str:
    location = "_".join(str(part) for part in error["loc"]).upper()
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{location}: {message}" if location else message


def load_settings(*, cloud_keys: Collection[str] = CLOUD_KEYS, **overrides: Any) -> Settings:
    """Read and validate the environment; raise `SettingsError` naming every bad variable.

    Variables come from the environment and from the `.env` file in the working directory when
    there is one (`ENV_FILE` names another; the environment wins over the file). `cloud_keys`:
    the Inngest keys cloud mode requires for what is being started (an operator command that
    sends no events needs neither).
    """
    env_file = os.environ.get("ENV_FILE", DEFAULT_ENV_FILE) or None
    token = _cloud_keys_needed.set(cloud_keys)
    try:
        return Settings(_env_file=env_file, **overrides)
    except ValidationError as exc:
        problems = "; ".join(_describe(dict(err)) for err in exc.errors())
        raise SettingsError(f"invalid configuration: {problems}") from None
    finally:
        _cloud_keys_needed.reset(token)
