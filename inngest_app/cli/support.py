"""What every operator command shares: settings for what it uses, the app's services, errors."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any

from inngest_app.client import build_client
from inngest_app.logs import configure_logging
from inngest_app.services import Services
from inngest_app.settings import Settings, load_settings
from inngest_app.store.migrate import behind_message


class CommandError(Exception):
    """The command cannot do what was asked: printed as one line, exit status 2."""


def command_settings(*, cloud_keys: Collection[str] = (), **overrides: Any) -> Settings:
    """Settings for a command: only the Inngest keys it uses are required, no run recording,
    and logs quiet unless `LOG_LEVEL` asks (a command's output is its own lines)."""
    overrides.setdefault("monitoring_enabled", False)
    overrides.setdefault("log_level", os.environ.get("LOG_LEVEL") or "CRITICAL")
    return load_settings(cloud_keys=cloud_keys, **overrides)


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """The services the server would have, opened by the same lifespan (the store: DSN,
    embedded or Supabase), without the server's routes (serving is what needs the signing
    key); a database whose schema is behind the code is refused."""
    from inngest_app.app import _lifespan  # the app pulls in every family: only when run

    configure_logging(
        fmt=settings.log_format.value, level=settings.log_level, secrets=settings.secret_values()
    )
    services = Services(settings=settings, inngest=build_client(settings))
    async with _lifespan(services):
        if services.pending_migrations:
            raise CommandError(behind_message(services.pending_migrations))
        yield services
