"""The families' settings: the query executor and its outbound guard, Stripe, GitHub capture
and workspaces, skills."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

DEFAULT_SKILLS_DIR = Path(__file__).resolve().parent.parent / "skills" / "catalog"


class FamilySettings(BaseSettings):
    """What one family of functions reads (a part of `Settings`)."""

    # --- Query executor ------------------------------------------------------------------
    query_credentials: dict[str, SecretStr] = Field(default_factory=dict)
    query_default_page_delay_s: float = Field(1.0, ge=0)

    # --- Outbound guard (inngest_app/outbound/) -----------------------------------------
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

    @property
    def stripe_live(self) -> bool:
        """Whether this deployment bills for real (test-mode events must then change nothing)."""
        if self.stripe_livemode is not None:
            return self.stripe_livemode
        key = self.stripe_api_key
        return key is not None and key.get_secret_value().startswith(("sk_live_", "rk_live_"))

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
    def stripe_webhook_secrets(self) -> list[str]:
        """The webhook signing secrets: several, comma-separated, while a rotation is under way."""
        if self.stripe_webhook_secret is None:
            return []
        raw = self.stripe_webhook_secret.get_secret_value()
        return [part.strip() for part in raw.split(",") if part.strip()]
