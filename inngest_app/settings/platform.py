"""The platform's settings: Inngest, storage, the HTTP edge and logs, monitoring, operations."""

from __future__ import annotations

import enum
from decimal import Decimal
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

DEFAULT_DEV_SERVER_URL = "http://localhost:8288"


class LogFormat(enum.StrEnum):
    """How log records are written."""

    TEXT = "text"
    JSON = "json"


class PlatformSettings(BaseSettings):
    """What every part of the service runs on (a part of `Settings`)."""

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

    # --- HTTP hardening ------------------------------------------------------------------
    metrics_token: SecretStr | None = None  # when set, GET /metrics needs it as a bearer token
    query_streams_per_user: int = Field(5, ge=1)  # concurrent SSE progress streams per caller

    # --- Operations ----------------------------------------------------------------------
    # Apply pending migrations at start-up (under the advisory lock): single-service deploys.
    migrate_on_start: bool = False

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

    @property
    def supabase_issuer(self) -> str | None:
        """The `iss` of Supabase's user tokens, when SUPABASE_URL is set."""
        return f"{self.supabase_url.rstrip('/')}/auth/v1" if self.supabase_url else None

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
    def uses_supabase_rest(self) -> bool:
        """Data operations go through PostgREST when Supabase is configured and no DSN is."""
        return self.database_url is None and self.supabase_url is not None
