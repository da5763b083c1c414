"""Settings, read from the environment once and validated at start.

Every variable the service reads is a field here (the README lists them with their defaults).
`load_settings()` turns a validation failure into `SettingsError`, whose message names each
missing or malformed variable, so start-up fails with one readable line instead of a traceback.
"""

from __future__ import annotations

import contextvars
import enum
import os
from collections.abc import Collection
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DEV_SERVER_URL = "http://localhost:8288"
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
DEFAULT_SKILLS_DIR = Path(__file__).resolve().parent / "skills" / "catalog"


class SettingsError(Exception):
    """The environment does not describe a runnable service."""


class LogFormat(enum.StrEnum):
    """How log records are written."""

    TEXT = "text"
    JSON = "json"


class Settings(BaseSettings):
    """The service's configuration. Field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(
        env_file=None,
        env_nested_delimiter="__",
        extra="ignore",
        frozen=True,
    )

    # --- Inngest -------------------------------------------------------------------------
    inngest_app_id: str = "inngest-app"
    inngest_dev: bool = False
    inngest_base_url: str = DEFAULT_DEV_SERVER_URL
    inngest_api_base_url: str | None = None
    inngest_event_api_base_url: str | None = None
    inngest_signing_key: SecretStr | None = None
    inngest_signing_key_fallback: SecretStr | None = None
    inngest_event_key: SecretStr | None = None
    inngest_serve_origin: str | None = None
    inngest_serve_path: str = "/api/inngest"
    # Refuse signed requests whose timestamp is further than this from now (replay guard).
    inngest_signature_max_age_s: int = Field(300, ge=1)
    # Cloud mode: an unsigned PUT /api/inngest (out-of-band sync) is refused unless this is on.
    inngest_allow_unsigned_sync: bool = False
    # Take the sync URL's origin from X-Forwarded-Proto/-Host (or Host): only behind a proxy
    # that sets them. Otherwise the origin is INNGEST_SERVE_ORIGIN, never a request header.
    inngest_trust_proxy_headers: bool = False

    # --- Storage -------------------------------------------------------------------------
    database_url: SecretStr | None = None
    embedded_pg_dir: Path = Path(".data/pg")
    db_pool_min: int = Field(1, ge=0)
    db_pool_max: int = Field(10, ge=1)
    supabase_url: str | None = None
    supabase_service_role_key: SecretStr | None = None

    # --- HTTP edge and logs --------------------------------------------------------------
    http_timeout_s: float = Field(10.0, gt=0)
    log_format: LogFormat = LogFormat.TEXT
    log_level: str = "INFO"

    # --- Monitoring ----------------------------------------------------------------------
    inngest_cost_per_step_usd: Decimal = Decimal("0.0001")
    inngest_cost_per_run_usd: Decimal = Decimal("0")
    # Inngest's pricing bills every step; set false to bill only step.run steps.
    inngest_bill_all_steps: bool = True
    inngest_monthly_step_quota: int | None = Field(None, ge=1)
    monitoring_enabled: bool = True
    monitoring_api_key: SecretStr | None = None
    monitoring_flush_interval_s: float = Field(1.0, gt=0)
    monitoring_flush_batch: int = Field(500, ge=1)
    monitoring_buffer_max: int = Field(10_000, ge=1)
    # a row still "started" this long after its run started is asked of Inngest's REST API
    monitoring_reconcile_after_s: int = Field(3600, ge=1)
    supabase_jwt_secret: SecretStr | None = None
    supabase_jwt_audience: str = "authenticated"
    supabase_jwt_roles: str = "authenticated"  # comma-separated roles a user token may carry
    # Supabase's subs are UUIDs: with this on, a token whose sub is anything else is no user
    supabase_jwt_uuid_subs: bool = False
    alert_webhook_url: str | None = None
    alert_max_steps_per_hour: int | None = Field(None, ge=1)
    alert_max_failures_per_hour: int | None = Field(None, ge=1)
    # Where the dashboard links a run: `{runId}` is replaced; default: the executor's viewer
    # (`INNGEST_BASE_URL/#run=...`) in dev mode, Inngest Cloud's run page otherwise.
    monitoring_run_url: str | None = Field(
        None, pattern=r"^https?://[^\s]*\{runId\}[^\s]*$", max_length=500
    )

    # --- Query executor ------------------------------------------------------------------
    query_credentials: dict[str, SecretStr] = Field(default_factory=dict)
    query_default_page_delay_s: float = Field(1.0, ge=0)

    # --- Outbound guard (inngest_app/outbound.py) ----------------------------------------
    # loopback/private/link-local destinations are refused unless set (dev mode too)
    query_allow_private_networks: bool = False
    outbound_max_bytes: int = Field(10 * 1024 * 1024, ge=1)
    outbound_deadline_s: float = Field(30.0, gt=0)
    # credential name → comma-separated host names it may be sent to / user ids who may use it
    query_credential_hosts: dict[str, str] = Field(default_factory=dict)
    query_credential_users: dict[str, str] = Field(default_factory=dict)
    # caps on what one query may ask for
    query_max_rows: int = Field(1_000_000, ge=1)
    query_max_pages: int = Field(500, ge=1)
    query_max_page_size: int = Field(1000, ge=1)
    query_max_response_bytes: int = Field(5 * 1024 * 1024, ge=1)
    query_request_deadline_s: float = Field(30.0, gt=0)
    query_min_page_delay_s: float = Field(0.5, ge=0)
    query_max_running_per_user: int = Field(5, ge=1)
    # steps one run of a query takes at most before handing over to a fresh run (Inngest fails
    # a run at its 1,001st; see inngest_app/queries/slices.py for the floor of 19)
    query_slice_steps: int = Field(200, ge=19, le=900)

    # --- Stripe --------------------------------------------------------------------------
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_key: SecretStr | None = None
    # Live deployment: test-mode (`livemode: false`) events change no billing unless allowed.
    # Unset means live exactly when STRIPE_API_KEY is a live key (sk_live_/rk_live_).
    stripe_livemode: bool | None = None
    stripe_allow_test_events: bool = False

    # --- HTTP hardening ------------------------------------------------------------------
    metrics_token: SecretStr | None = None  # when set, GET /metrics needs it as a bearer token
    query_streams_per_user: int = Field(5, ge=1)  # concurrent SSE progress streams per caller

    # --- Operations ----------------------------------------------------------------------
    # Apply pending migrations at start-up (under the advisory lock): single-service deploys.
    migrate_on_start: bool = False

    # --- GitHub capture ------------------------------------------------------------------
    github_token: SecretStr | None = None
    github_api_url: str = "https://api.github.com"
    # Caps on what one user creates (admins are not capped): workspaces per owner, and
    # repositories per workspace.
    workspaces_per_user_max: int = Field(25, ge=1)
    workspace_repositories_max: int = Field(50, ge=1)

    @field_validator("github_api_url")
    @classmethod
    def _github_api_url_is_http(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL, e.g. https://api.github.com")
        return value.rstrip("/")

    # --- Skills --------------------------------------------------------------------------
    skills_dir: Path = DEFAULT_SKILLS_DIR
    # auto: anthropic with ANTHROPIC_API_KEY, else openai with OPENAI_BASE_URL/KEY, else template
    skill_provider: Literal["auto", "anthropic", "openai", "template"] = "auto"
    skill_model: str | None = None  # overrides every skill's model (e.g. a local server's)
    skill_max_tokens: int = Field(4096, ge=1, le=64_000)
    skill_model_timeout_s: float = Field(120.0, gt=0, le=540)
    skill_runs_per_hour: int = Field(100, ge=1)
    skill_outputs_dir: Path = Path(".data/outputs")
    skill_outputs_bucket: str = Field("skill-outputs", pattern=r"^[a-z0-9][a-z0-9._-]{1,62}$")
    anthropic_api_key: SecretStr | None = None
    anthropic_base_url: str | None = None
    openai_api_key: SecretStr | None = None
    openai_base_url: str | None = None
    telegram_bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"  # a stand-in's origin, offline
    # users' webhook channels may reach loopback/private addresses (offline stand-ins only)
    skill_webhooks_allow_private: bool = False

    @field_validator("telegram_api_url")
    @classmethod
    def _telegram_api_url_is_http(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s) URL, e.g. https://api.telegram.org")
        return value.rstrip("/")

    @field_validator("inngest_serve_path")
    @classmethod
    def _path_starts_with_slash(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError("must start with '/'")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

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

    @property
    def stripe_live(self) -> bool:
        """Whether this deployment bills for real (test-mode events must then change nothing)."""
        if self.stripe_livemode is not None:
            return self.stripe_livemode
        key = self.stripe_api_key
        return key is not None and key.get_secret_value().startswith(("sk_live_", "rk_live_"))

    @property
    def supabase_issuer(self) -> str | None:
        """The `iss` of Supabase's user tokens, when SUPABASE_URL is set."""
        return f"{self.supabase_url.rstrip('/')}/auth/v1" if self.supabase_url else None

    @property
    def skill_provider_name(self) -> Literal["anthropic", "openai", "template"]:
        """The model provider in use (`auto` resolved)."""
        if self.skill_provider != "auto":
            return self.skill_provider
        if self.anthropic_api_key is not None:
            return "anthropic"
        if self.openai_base_url or self.openai_api_key is not None:
            return "openai"
        return "template"

    @property
    def api_base_url(self) -> str | None:
        """Origin of the Inngest REST API (registration); None means the SDK's cloud default."""
        if self.inngest_api_base_url:
            return self.inngest_api_base_url
        return self.inngest_base_url if self.inngest_dev else None

    @property
    def event_api_base_url(self) -> str | None:
        """Origin of the Inngest event API; None means the SDK's cloud default."""
        if self.inngest_event_api_base_url:
            return self.inngest_event_api_base_url
        return self.inngest_base_url if self.inngest_dev else None

    @property
    def stripe_webhook_secrets(self) -> list[str]:
        """The webhook signing secrets: several, comma-separated, while a rotation is under way."""
        if self.stripe_webhook_secret is None:
            return []
        raw = self.stripe_webhook_secret.get_secret_value()
        return [part.strip() for part in raw.split(",") if part.strip()]

    @property
    def uses_supabase_rest(self) -> bool:
        """Data operations go through PostgREST when Supabase is configured and no DSN is."""
        return self.database_url is None and self.supabase_url is not None

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
