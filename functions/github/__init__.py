"""GitHub capture: keep a Postgres copy of tracked repositories' pull-request activity.

One module per job: `syncs` (GraphQL syncs and their hourly schedule), `details` (one pull
request over REST), `discovery` (new repositories, sizes), `discussions` (the 6-hourly fan-out
and each repository's capture). Each function's body is a module-level handler taking its
dependencies (`Deps`); `build` only binds them and declares the options.

Per-repository functions run one at a time per repository (concurrency 1 keyed on it, shared
across them), share an account-wide concurrency pool and a throttle (GitHub's secondary
limits), retry 3 times, and are cancelled by `cancel/function` with `reason: "user_requested"`
for the same repository.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import inngest

from functions.github import details, discovery, discussions, syncs
from functions.github.common import Deps, fan_out, per_repository
from inngest_app.github.client import GithubClient
from inngest_app.github.events import (
    CLASSIFY_ALL,
    CLASSIFY_ONE,
    DISCOVER,
    DISCUSSIONS_FAN_OUT,
    DISCUSSIONS_SYNC,
    PR_DETAILS,
    REPOSITORY_SYNC,
    REPOSITORY_SYNC_ENHANCED,
    WORKSPACE_PRIORITIES,
)
from inngest_app.repos.github import GithubRepo
from inngest_app.services import Services

logger = logging.getLogger(__name__)


def _deps(services: Services) -> Deps:
    settings = services.settings
    # One GitHub client per open HTTP client (i.e. per app lifespan): it remembers a spent
    # primary limit until its reset.
    cached: list[tuple[httpx.AsyncClient, GithubClient]] = []

    def github() -> GithubClient:
        if settings.github_token is None:
            raise inngest.NonRetriableError("GITHUB_TOKEN is not set: cannot call GitHub")
        http = services.http
        if not cached or cached[0][0] is not http:
            client = GithubClient(
                http,
                token=settings.github_token.get_secret_value(),
                api_url=settings.github_api_url,
                timeout_s=settings.http_timeout_s,
            )
            cached[:] = [(http, client)]
        return cached[0][1]

    return Deps(repo=lambda: GithubRepo(services.transport), github=github)


def build(services: Services) -> list[inngest.Function[Any]]:
    """The GitHub capture functions, bound to `services`."""
    client = services.inngest
    if services.settings.github_token is None:
        logger.warning(
            "GITHUB_TOKEN is not set: GitHub capture functions will fail without retrying"
        )
    deps = _deps(services)

    @client.create_function(
        fn_id="capture-repository-sync-graphql",
        name="capture/repository.sync-graphql",
        trigger=inngest.TriggerEvent(event=REPOSITORY_SYNC),
        **per_repository(),
    )
    async def sync_graphql(ctx: inngest.Context) -> dict[str, Any]:
        return await syncs.sync(ctx, deps=deps, enhanced=False)

    @client.create_function(
        fn_id="capture-repository-sync-enhanced",
        name="capture/repository.sync-enhanced",
        trigger=inngest.TriggerEvent(event=REPOSITORY_SYNC_ENHANCED),
        **per_repository(),
    )
    async def sync_enhanced(ctx: inngest.Context) -> dict[str, Any]:
        return await syncs.sync(ctx, deps=deps, enhanced=True)

    @client.create_function(
        fn_id="capture-pr-details",
        name="capture/pr.details",
        trigger=inngest.TriggerEvent(event=PR_DETAILS),
        **per_repository(),
    )
    async def pr_details(ctx: inngest.Context) -> dict[str, Any]:
        return await details.pr_details(ctx, deps=deps)

    @client.create_function(
        fn_id="classify-repository-size",
        name="classify/repository.size",
        trigger=inngest.TriggerEvent(event=CLASSIFY_ALL),
        **fan_out(),
    )
    async def classify_all(ctx: inngest.Context) -> dict[str, Any]:
        return await discovery.classify_all(ctx, deps=deps)

    @client.create_function(
        fn_id="classify-single-repository",
        name="classify/single-repository",
        trigger=inngest.TriggerEvent(event=CLASSIFY_ONE),
        **per_repository(),
    )
    async def classify_single(ctx: inngest.Context) -> dict[str, Any]:
        return await discovery.classify_single(ctx, deps=deps)

    @client.create_function(
        fn_id="discover-new-repository",
        name="discover/new-repository",
        trigger=inngest.TriggerEvent(event=DISCOVER),
        **per_repository(),
    )
    async def discover(ctx: inngest.Context) -> dict[str, Any]:
        return await discovery.discover(ctx, deps=deps)

    @client.create_function(
        fn_id="sync-workspace-priorities",
        name="sync/workspace-priorities",
        trigger=[
            inngest.TriggerEvent(event=WORKSPACE_PRIORITIES),
            inngest.TriggerCron(cron="0 * * * *"),
        ],
        retries=3,
    )
    async def sync_priorities(ctx: inngest.Context) -> dict[str, Any]:
        return await syncs.priorities(ctx, deps=deps)

    @client.create_function(
        fn_id="sync-discussions-cron",
        name="sync/discussions-cron",
        trigger=[
            inngest.TriggerCron(cron="0 */6 * * *"),
            inngest.TriggerEvent(event=DISCUSSIONS_FAN_OUT),
        ],
        retries=3,
    )
    async def discussions_cron(ctx: inngest.Context) -> dict[str, Any]:
        return await discussions.fan_out(ctx, deps=deps)

    @client.create_function(
        fn_id="capture-repository-discussions",
        name="capture/repository.discussions",
        trigger=inngest.TriggerEvent(event=DISCUSSIONS_SYNC),
        **per_repository(),
    )
    async def discussions_capture(ctx: inngest.Context) -> dict[str, Any]:
        return await discussions.capture(ctx, deps=deps)

    return [
        pr_details,
        sync_graphql,
        sync_enhanced,
        classify_all,
        classify_single,
        discover,
        sync_priorities,
        discussions_cron,
        discussions_capture,
    ]
