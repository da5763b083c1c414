"""The skills family's run-time parts, opened with the app: the skill library (loaded from its
folder and synced to the `skills` table), the model provider and the output storage.

One `SkillsRuntime` per app, shared by the functions and the routes (`skills_runtime`), kept among
the app's run-time parts (`Services.part`: the container knows nothing of skills). It is a
lifecycle component: `start` runs in the lifespan, after the store and HTTP client are open.
"""

from __future__ import annotations

import logging

from inngest_app.repos.skills import SkillsRepo
from inngest_app.services import NotStartedError, Services
from inngest_app.skills.library import Skill, load_library
from inngest_app.skills.providers import (
    AnthropicProvider,
    OpenAIProvider,
    Provider,
    TemplateProvider,
)
from inngest_app.skills.storage import LocalStorage, OutputStorage, SupabaseStorage
from inngest_app.store import StoreError

logger = logging.getLogger(__name__)


class SkillsRuntime:
    """Library, provider and storage of the skills family."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._library: dict[str, Skill] | None = None
        self._provider: Provider | None = None
        self._storage: OutputStorage | None = None
        self._synced = False

    async def start(self) -> None:
        """Load the skill files (a bad file stops start-up, naming it), open provider and storage,
        and sync the library to the database (retried on first use if the database is down)."""
        settings = self._services.settings
        self._library = load_library(settings.skills_dir)
        self._provider = build_provider(self._services)
        self._storage = build_storage(self._services)
        logger.info(
            "skills: %d loaded from %s, provider %s, outputs in %s",
            len(self._library),
            settings.skills_dir,
            self._provider.name,
            self._storage.kind,
        )
        await self.ensure_synced()

    async def stop(self) -> None:
        """Nothing to release: the HTTP client belongs to the app."""
        self._provider = self._storage = None
        self._synced = False

    async def ensure_synced(self) -> bool:
        """Sync the library to `skills` once; False (logged) while the database is down."""
        if self._synced:
            return True
        try:
            changed = await SkillsRepo(self._services.transport).sync_skills(
                list(self.library.values())
            )
        except Exception as exc:  # any store trouble: start anyway, sync again on first use
            logger.warning(
                "skills: could not sync the library to the database (%s: %s)",
                type(exc).__name__,
                exc if isinstance(exc, StoreError) else "",
            )
            return False
        self._synced = True
        logger.info("skills: synced (%s)", changed)
        return True

    @property
    def library(self) -> dict[str, Skill]:
        """Every loaded skill by name (inactive ones included)."""
        if self._library is None:
            raise NotStartedError("the skills library is not loaded (app lifespan not started)")
        return self._library

    @property
    def provider(self) -> Provider:
        """The model provider chosen by settings."""
        if self._provider is None:
            raise NotStartedError("the model provider is not open (app lifespan not started)")
        return self._provider

    @property
    def storage(self) -> OutputStorage:
        """Where outputs are stored."""
        if self._storage is None:
            raise NotStartedError("output storage is not open (app lifespan not started)")
        return self._storage

    def active_skill(self, name: str) -> Skill | None:
        """The skill if it exists and is active."""
        skill = self.library.get(name)
        return skill if skill is not None and skill.active else None

    def model_for(self, skill: Skill) -> str:
        """`SKILL_MODEL` when set (one model for every skill), else the skill's own."""
        return self._services.settings.skill_model or skill.model

    def max_tokens_for(self, skill: Skill) -> int:
        """The skill's `max_tokens`, capped by `SKILL_MAX_TOKENS`."""
        cap = self._services.settings.skill_max_tokens
        return min(skill.max_tokens or cap, cap)


def build_provider(services: Services) -> Provider:
    """The provider settings name (`auto` resolved), on the app's HTTP client."""
    settings = services.settings
    name = settings.skill_provider_name
    timeout_s = settings.skill_model_timeout_s
    if name == "anthropic":
        assert settings.anthropic_api_key is not None  # noqa: S101 (settings validate it)
        return AnthropicProvider(
            api_key=settings.anthropic_api_key.get_secret_value(),
            base_url=settings.anthropic_base_url,
            http=services.http,
            timeout_s=timeout_s,
        )
    if name == "openai":
        key = settings.openai_api_key
        return OpenAIProvider(
            api_key=key.get_secret_value() if key else None,
            base_url=settings.openai_base_url,
            http=services.http,
            timeout_s=timeout_s,
        )
    return TemplateProvider()


def build_storage(services: Services) -> OutputStorage:
    """Supabase Storage when Supabase is configured, else files under `SKILL_OUTPUTS_DIR`."""
    settings = services.settings
    if settings.supabase_url and settings.supabase_service_role_key:
        return SupabaseStorage(
            url=settings.supabase_url,
            service_role_key=settings.supabase_service_role_key.get_secret_value(),
            bucket=settings.skill_outputs_bucket,
            http=services.http,
        )
    return LocalStorage(settings.skill_outputs_dir)


def skills_runtime(services: Services) -> SkillsRuntime:
    """The app's one runtime: built by the skills family when its functions are built, and
    registered as a lifecycle; the routes read the same one."""
    return services.part(SkillsRuntime, SkillsRuntime)
