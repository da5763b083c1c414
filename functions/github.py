"""GitHub capture: keep a Postgres copy of tracked repositories' pull-request activity.

Each page step fetches and stores in one go (one bulk upsert per table), so its output is a few
counts, not the rows, and a retried step repeats a fetch but never writes a row twice. GitHub's
answers become Inngest's errors in one place (`_guarded`): rate limits retry at the time GitHub
gives, a missing repository is marked `missing` and not retried, permanent refusals end the run.
Per-repository functions run one at a time per repository (concurrency 1 keyed on it), share
an account-wide concurrency pool and a throttle (GitHub's secondary limits), retry 3 times, and
are cancelled by `cancel/function` with `reason: "user_requested"` for the same repository.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import inngest

from inngest_app.events import parse_event
from inngest_app.github.client import (
    GithubClient,
    GithubUnavailable,
    NotFound,
    RateLimited,
    Refused,
    list_pages,
)
from inngest_app.github.documents import (
    DISCUSSIONS,
    REPOSITORY_METADATA,
    SYNC_ENHANCED,
    SYNC_PULL_REQUESTS,
    sizes_document,
)
from inngest_app.github.events import (
    CANCEL,
    CANCEL_IF,
    CLASSIFY_ALL,
    CLASSIFY_ONE,
    DISCOVER,
    PR_DETAILS,
    REPOSITORY_KEY,
    REPOSITORY_SYNC,
    REPOSITORY_SYNC_ENHANCED,
    WORKSPACE_PRIORITIES,
    EnhancedSyncRequested,
    PrDetailsRequested,
    RepositoryRef,
    RepositoryRequested,
    RepositorySyncRequested,
)
from inngest_app.github.parse import (
    Batch,
    gql_discussions,
    gql_pull_request,
    gql_repository,
    rest_comments,
    rest_pull_request,
    rest_repository,
    rest_reviews,
    size_class,
)
from inngest_app.github.plan import (
    PAGE_SIZE,
    SyncReason,
    back_off_until,
    max_pages,
    plan_syncs,
    skip_reason,
)
from inngest_app.repos.github import (
    ETag,
    GithubRepo,
    Repository,
    SizeUpdate,
)
from inngest_app.services import Services
from inngest_app.store import StoreError

logger = logging.getLogger(__name__)
T = TypeVar("T")

RETRIES = 3
ENHANCED_PAGE_SIZE = 50  # pull requests per enhanced page (each with nested activity)
ENHANCED_NESTED = {"reviews": 20, "reviewComments": 20, "comments": 30}
SIZES_BATCH = 50  # repositories per classification query
DISCUSSIONS_PAGE = 50
SEND_BATCH = 500  # events per step.send_event
REST_MAX_PAGES = 50  # pages of 100 per REST list (5,000 items)
# GitHub's secondary limits: at most 100 concurrent requests, ~900 REST / 2,000 GraphQL points a
# minute. Every GitHub function draws from one account-wide pool and starts at most this often.
GLOBAL_CONCURRENCY = inngest.Concurrency(limit=10, key='"github-api"', scope="account")
THROTTLE = inngest.Throttle(limit=60, period=dt.timedelta(minutes=1), burst=10)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def _time(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _per_repository() -> dict[str, Any]:
    """Flow control of a function that works on one repository."""
    return {
        "retries": RETRIES,
        "concurrency": [
            inngest.Concurrency(limit=1, key=REPOSITORY_KEY, scope="env"),
            GLOBAL_CONCURRENCY,
        ],
        "throttle": THROTTLE,
        "cancel": [inngest.Cancel(event=CANCEL, if_exp=CANCEL_IF)],
    }


def _fan_out() -> dict[str, Any]:
    """Flow control of a function that works over every tracked repository."""
    return {"retries": RETRIES, "concurrency": [GLOBAL_CONCURRENCY]}


def build(services: Services) -> list[inngest.Function[Any]]:
    """The GitHub capture functions, bound to `services`."""
    client = services.inngest
    settings = services.settings
    if settings.github_token is None:
        logger.warning(
            "GITHUB_TOKEN is not set: GitHub capture functions will fail without retrying"
        )

    def repo() -> GithubRepo:
        return GithubRepo(services.transport)

    # One GitHub client per open HTTP client (i.e. per app lifespan): it remembers a spent
    # primary limit until its reset.
    cached: list[tuple[httpx.AsyncClient, GithubClient]] = []

    def github() -> GithubClient:
        if settings.github_token is None:
            raise inngest.NonRetriableError("GITHUB_TOKEN is not set: cannot call GitHub")
        http = services.http
        if not cached or cached[0][0] is not http:
            cached[:] = [
                (
                    http,
                    GithubClient(
                        http,
                        token=settings.github_token.get_secret_value(),
                        api_url=settings.github_api_url,
                        timeout_s=settings.http_timeout_s,
                    ),
                )
            ]
        return cached[0][1]

    async def _guarded(
        ref: RepositoryRef | None, work: Callable[[], Awaitable[T]], *, marks_missing: bool = True
    ) -> T:
        """Run `work`; GitHub's and the store's errors become Inngest's."""
        try:
            return await work()
        except NotFound as exc:
            if ref is not None and marks_missing:
                await repo().mark_missing(owner=ref.owner, name=ref.name)
            what = ref.full_name if ref else "resource"
            raise inngest.NonRetriableError(f"{what} not found on GitHub: {exc}") from None
        except RateLimited as exc:
            raise inngest.RetryAfterError(str(exc), exc.retry_at) from None
        except Refused as exc:
            raise inngest.NonRetriableError(str(exc)) from None
        except StoreError as exc:
            if exc.retriable:
                raise
            raise inngest.NonRetriableError(str(exc)) from None

    async def sleep_if_needed(ctx: inngest.Context, step_id: str, until: str | None) -> None:
        if until is not None and _time(until) is not None:
            wait_until = _time(until)
            assert wait_until is not None  # noqa: S101 (narrowing)
            if wait_until > _now():
                ctx.logger.info("GraphQL budget low: sleeping until %s", until)
                await ctx.step.sleep_until(step_id, wait_until)

    # --- repository syncs over GraphQL -----------------------------------------------------

    async def sync_pages(
        ctx: inngest.Context,
        ref: RepositoryRef,
        *,
        reason: SyncReason,
        enhanced: bool,
        pages: int | None,
    ) -> dict[str, Any]:
        """Check freshness, read pages newest-updated first, store each, finish the sync."""
        gh = github()

        async def check() -> dict[str, Any]:
            found = await repo().find(owner=ref.owner, name=ref.name)
            skip = skip_reason(found, reason, now=_now())
            return {"skip": skip, "repository": found.model_dump(mode="json") if found else None}

        checked = await ctx.step.run("check-repository", check)
        if checked["skip"]:
            return {"status": "skipped", "reason": checked["skip"]}
        known = Repository.model_validate(checked["repository"]) if checked["repository"] else None
        watermark = known.sync_watermark if known else None

        async def fetch_page(page: int, cursor: str | None) -> dict[str, Any]:
            if enhanced:
                document = SYNC_ENHANCED
                variables: dict[str, Any] = {"first": ENHANCED_PAGE_SIZE, **ENHANCED_NESTED}
            else:
                document, variables = SYNC_PULL_REQUESTS, {"first": PAGE_SIZE}
            variables.update(owner=ref.owner, name=ref.name, after=cursor)

            async def work() -> dict[str, Any]:
                result = await gh.graphql(document, variables)
                node = result.data.get("repository")
                if not isinstance(node, dict):
                    raise NotFound(f"repository {ref.full_name} resolved to null")
                meta = gql_repository(node)
                stored = await repo().upsert_repository(meta)
                connection = node.get("pullRequests") or {}
                batch, reached, newest = Batch(), False, None
                for pr_node in connection.get("nodes") or []:
                    row = gql_pull_request(pr_node, batch)
                    newest = max(newest or row.updated_at, row.updated_at)
                    if watermark is not None and row.updated_at <= watermark:
                        reached = True
                        batch.pull_requests.pop()  # unchanged since the last complete sync
                        break
                written = await repo().store_page(
                    repository_id=stored.id,
                    contributors=list(batch.contributors.values()),
                    pull_requests=batch.pull_requests,
                    reviews=batch.reviews,
                    comments=batch.comments,
                )
                info = connection.get("pageInfo") or {}
                return {
                    "repository_id": stored.id,
                    "size_class": stored.size_class,
                    "pr_count": stored.pr_count,
                    "fetched": len(connection.get("nodes") or []),
                    "written": written.model_dump(),
                    "newest": _iso(newest),
                    "reached_watermark": reached,
                    "has_next": bool(info.get("hasNextPage")),
                    "end_cursor": info.get("endCursor"),
                    "back_off_until": _iso(back_off_until(result.rate_limit)),
                }

            return await _guarded(ref, work)

        totals: dict[str, int] = {}
        page, cursor, newest = 1, None, None
        limit = pages
        complete = watermark is None
        outcome: dict[str, Any] = {}
        while True:
            outcome = await ctx.step.run(f"sync-page-{page}", fetch_page, page, cursor)
            for table, count in outcome["written"].items():
                totals[table] = totals.get(table, 0) + count
            if outcome["newest"] and (newest is None or outcome["newest"] > newest):
                newest = outcome["newest"]
            if limit is None:
                limit = max_pages(outcome["size_class"], outcome["pr_count"])
            if outcome["reached_watermark"] or not outcome["has_next"]:
                complete = True
                break
            if page >= limit:
                break
            await sleep_if_needed(ctx, f"wait-rate-limit-{page}", outcome["back_off_until"])
            page, cursor = page + 1, outcome["end_cursor"]

        # The watermark moves only when this sync read everything back to the old one (or it
        # is the first): otherwise the pull requests between would never be read again.
        new_watermark = newest if complete else None

        async def finish() -> dict[str, Any]:
            done = await repo().finish_sync(
                repository_id=outcome["repository_id"],
                watermark=_time(new_watermark),
                reason=reason,
            )
            return {"sync_watermark": _iso(done.sync_watermark)}

        finished = await ctx.step.run("finish-sync", finish)
        return {
            "status": "synced",
            "repository": ref.full_name,
            "pages": page,
            "written": totals,
            "complete": complete,
            **finished,
        }

    @client.create_function(
        fn_id="capture-repository-sync-graphql",
        name="capture/repository.sync-graphql",
        trigger=inngest.TriggerEvent(event=REPOSITORY_SYNC),
        **_per_repository(),
    )
    async def sync_graphql(ctx: inngest.Context) -> dict[str, Any]:
        data = parse_event(RepositorySyncRequested, ctx.event.data, event=REPOSITORY_SYNC)
        return await sync_pages(
            ctx, data.repository, reason=data.reason, enhanced=False, pages=None
        )

    @client.create_function(
        fn_id="capture-repository-sync-enhanced",
        name="capture/repository.sync-enhanced",
        trigger=inngest.TriggerEvent(event=REPOSITORY_SYNC_ENHANCED),
        **_per_repository(),
    )
    async def sync_enhanced(ctx: inngest.Context) -> dict[str, Any]:
        data = parse_event(EnhancedSyncRequested, ctx.event.data, event=REPOSITORY_SYNC_ENHANCED)
        return await sync_pages(
            ctx, data.repository, reason=data.reason, enhanced=True, pages=data.pages
        )

    # --- one pull request over REST ----------------------------------------------------------

    @client.create_function(
        fn_id="capture-pr-details",
        name="capture/pr.details",
        trigger=inngest.TriggerEvent(event=PR_DETAILS),
        **_per_repository(),
    )
    async def pr_details(ctx: inngest.Context) -> dict[str, Any]:
        data = parse_event(PrDetailsRequested, ctx.event.data, event=PR_DETAILS)
        ref, number = data.repository, data.pr_number
        gh = github()
        base = f"/repos/{ref.owner}/{ref.name}"
        scope = f"pr:{ref.full_name}#{number}".lower()

        async def fetch_and_store() -> dict[str, Any]:
            async def work() -> dict[str, Any]:
                known = {u: (t.etag, t.next_url) for u, t in (await repo().etags(scope)).items()}
                before = gh.requests.total
                pull = await gh.rest(f"{base}/pulls/{number}")
                batch = Batch()
                row = rest_pull_request(pull.body, batch)
                meta = rest_repository((pull.body.get("base") or {}).get("repo") or {})
                stored = await repo().upsert_repository(meta)
                etags: dict[str, tuple[str, str | None]] = {}
                not_modified = 0
                lists = [
                    ("reviews", f"{base}/pulls/{number}/reviews"),
                    ("review", f"{base}/pulls/{number}/comments"),
                    ("issue", f"{base}/issues/{number}/comments"),
                ]
                for kind, path in lists:
                    listing = await list_pages(
                        gh,
                        path,
                        params={"per_page": 100},
                        etags=known,
                        max_pages=REST_MAX_PAGES,
                    )
                    etags.update(listing.etags)
                    not_modified += listing.not_modified
                    if kind == "reviews":
                        rest_reviews(listing.items, row.github_id, batch)
                    else:
                        rest_comments(listing.items, row.github_id, batch, kind=kind)
                written = await repo().store_page(
                    repository_id=stored.id,
                    contributors=list(batch.contributors.values()),
                    pull_requests=batch.pull_requests,
                    reviews=batch.reviews,
                    comments=batch.comments,
                )
                await repo().put_etags(
                    scope, {u: ETag(etag=e, next_url=n) for u, (e, n) in etags.items()}
                )
                return {
                    "repository_id": stored.id,
                    "pull_request_id": row.github_id,
                    "reviews": len(batch.reviews),
                    "comments": len(batch.comments),
                    "written": written.model_dump(),
                    "requests": gh.requests.total - before,
                    "not_modified": not_modified,
                }

            return await _guarded(ref, work, marks_missing=False)

        # One step: the lists are asked conditionally, so a retry re-reads unchanged pages
        # for free, and the rows of all of them are stored together, one statement per table.
        return await ctx.step.run("fetch-and-store", fetch_and_store)

    # --- sizing --------------------------------------------------------------------------------

    async def classify(ref: RepositoryRef) -> dict[str, Any]:
        gh = github()

        async def work() -> dict[str, Any]:
            result = await gh.graphql(REPOSITORY_METADATA, {"owner": ref.owner, "name": ref.name})
            node = result.data.get("repository")
            if not isinstance(node, dict):
                raise NotFound(f"repository {ref.full_name} resolved to null")
            stored = await repo().upsert_repository(gql_repository(node))
            return stored.model_dump(mode="json")

        return await _guarded(ref, work)

    @client.create_function(
        fn_id="classify-single-repository",
        name="classify/single-repository",
        trigger=inngest.TriggerEvent(event=CLASSIFY_ONE),
        **_per_repository(),
    )
    async def classify_single(ctx: inngest.Context) -> dict[str, Any]:
        data = parse_event(RepositoryRequested, ctx.event.data, event=CLASSIFY_ONE)
        stored = await ctx.step.run("classify", classify, data.repository)
        return {
            "repository": data.repository.full_name,
            "pr_count": stored["pr_count"],
            "size_class": stored["size_class"],
        }

    @client.create_function(
        fn_id="classify-repository-size",
        name="classify/repository.size",
        trigger=inngest.TriggerEvent(event=CLASSIFY_ALL),
        **_fan_out(),
    )
    async def classify_all(ctx: inngest.Context) -> dict[str, Any]:
        gh = github()

        async def list_repositories() -> list[dict[str, Any]]:
            return [{"id": r.id, "owner": r.owner, "name": r.name} for r in await repo().list()]

        repositories = await ctx.step.run("list-repositories", list_repositories)
        batches = [
            repositories[i : i + SIZES_BATCH] for i in range(0, len(repositories), SIZES_BATCH)
        ]

        async def classify_batch(items: list[dict[str, Any]]) -> dict[str, Any]:
            variables: dict[str, Any] = {}
            for i, item in enumerate(items):
                variables[f"o{i}"], variables[f"n{i}"] = item["owner"], item["name"]

            async def work() -> dict[str, Any]:
                result = await gh.graphql(sizes_document(len(items)), variables, partial=True)
                missing_paths = {
                    str((e.get("path") or [""])[0])
                    for e in result.errors
                    if e.get("type") == "NOT_FOUND"
                }
                if result.errors and not missing_paths:
                    raise GithubUnavailable(f"GraphQL errors: {result.errors[:3]}")
                sizes, missing = [], []
                for i, item in enumerate(items):
                    node = result.data.get(f"r{i}")
                    if not isinstance(node, dict):
                        if f"r{i}" in missing_paths:
                            await repo().mark_missing(owner=item["owner"], name=item["name"])
                            missing.append(f"{item['owner']}/{item['name']}")
                        continue
                    count = int((node.get("allPullRequests") or {}).get("totalCount") or 0)
                    sizes.append(
                        SizeUpdate(
                            id=item["id"],
                            pr_count=count,
                            size_class=size_class(count),
                        )
                    )
                changed = await repo().set_sizes(sizes)
                return {
                    "classified": len(sizes),
                    "changed": changed,
                    "missing": missing,
                    "back_off_until": _iso(back_off_until(result.rate_limit)),
                }

            return await _guarded(None, work)

        classified, missing = 0, []
        for i, items in enumerate(batches, start=1):
            outcome = await ctx.step.run(f"classify-batch-{i}", classify_batch, items)
            classified += outcome["classified"]
            missing += outcome["missing"]
            if i < len(batches):
                await sleep_if_needed(ctx, f"wait-rate-limit-{i}", outcome["back_off_until"])
        return {"repositories": len(repositories), "classified": classified, "missing": missing}

    # --- discovery -----------------------------------------------------------------------------

    @client.create_function(
        fn_id="discover-new-repository",
        name="discover/new-repository",
        trigger=inngest.TriggerEvent(event=DISCOVER),
        **_per_repository(),
    )
    async def discover(ctx: inngest.Context) -> dict[str, Any]:
        data = parse_event(RepositoryRequested, ctx.event.data, event=DISCOVER)
        ref = data.repository

        async def find() -> dict[str, Any] | None:
            found = await repo().find(owner=ref.owner, name=ref.name)
            return None if found is None else {"id": found.id, "status": found.status}

        known = await ctx.step.run("find-repository", find)
        if known is not None:
            return {"status": "known", "repository_id": known["id"]}
        # Metadata, pull-request count (hence size class) and the row, in one step and request.
        created = await ctx.step.run("create-repository", classify, ref)
        await ctx.step.send_event(
            "send-initial-sync",
            inngest.Event(
                name=REPOSITORY_SYNC,
                data={
                    "repository": {
                        "owner": created["owner"],
                        "name": created["name"],
                        "github_id": str(created["github_id"]),
                    },
                    "reason": "automatic",
                },
            ),
        )
        return {
            "status": "created",
            "repository_id": created["id"],
            "size_class": created["size_class"],
        }

    # --- schedules -----------------------------------------------------------------------------

    @client.create_function(
        fn_id="sync-workspace-priorities",
        name="sync/workspace-priorities",
        trigger=[
            inngest.TriggerEvent(event=WORKSPACE_PRIORITIES),
            inngest.TriggerCron(cron="0 * * * *"),
        ],
        retries=RETRIES,
    )
    async def sync_priorities(ctx: inngest.Context) -> dict[str, Any]:
        async def plan() -> list[dict[str, Any]]:
            planned = plan_syncs(await repo().list(), now=_now())
            return [
                {
                    "repository": {"owner": p.owner, "name": p.name, "github_id": str(p.github_id)},
                    "reason": p.reason,
                    "priority": p.priority,
                }
                for p in planned
            ]

        planned = await ctx.step.run("plan-syncs", plan)
        for i in range(0, len(planned), SEND_BATCH):
            events = [
                inngest.Event(
                    name=REPOSITORY_SYNC,
                    data={"repository": p["repository"], "reason": p["reason"]},
                )
                for p in planned[i : i + SEND_BATCH]
            ]
            await ctx.step.send_event(f"send-syncs-{i // SEND_BATCH + 1}", events)
        return {
            "sent": len(planned),
            "priority": sum(1 for p in planned if p["priority"]),
            "order": [f"{p['repository']['owner']}/{p['repository']['name']}" for p in planned],
        }

    @client.create_function(
        fn_id="sync-discussions-cron",
        name="sync/discussions-cron",
        trigger=inngest.TriggerCron(cron="0 */6 * * *"),
        **_fan_out(),
    )
    async def sync_discussions(ctx: inngest.Context) -> dict[str, Any]:
        gh = github()

        async def list_repositories() -> list[dict[str, Any]]:
            return [
                {"id": r.id, "owner": r.owner, "name": r.name}
                for r in await repo().list()
                if r.has_discussions
            ]

        repositories = await ctx.step.run("list-repositories", list_repositories)

        async def capture(item: dict[str, Any]) -> dict[str, Any]:
            ref = RepositoryRef(owner=item["owner"], name=item["name"])

            async def work() -> dict[str, Any]:
                result = await gh.graphql(
                    DISCUSSIONS, {"owner": ref.owner, "name": ref.name, "first": DISCUSSIONS_PAGE}
                )
                node = result.data.get("repository")
                if not isinstance(node, dict):
                    raise NotFound(f"repository {ref.full_name} resolved to null")
                batch = Batch()
                gql_discussions((node.get("discussions") or {}).get("nodes") or [], batch)
                written = await repo().store_discussions(
                    repository_id=item["id"],
                    contributors=list(batch.contributors.values()),
                    discussions=batch.discussions,
                )
                return {
                    "status": "synced",
                    "discussions": len(batch.discussions),
                    "written": written.discussions,
                    "back_off_until": _iso(back_off_until(result.rate_limit)),
                }

            async def tolerant() -> dict[str, Any]:
                try:
                    return await work()
                except NotFound:
                    # One repository gone must not stop the others.
                    await repo().mark_missing(owner=ref.owner, name=ref.name)
                    return {"status": "missing", "discussions": 0, "back_off_until": None}

            return await _guarded(ref, tolerant)

        results: dict[str, str] = {}
        for i, item in enumerate(repositories, start=1):
            full = f"{item['owner']}/{item['name']}"
            outcome = await ctx.step.run(f"discussions-{full}", capture, item)
            results[full] = outcome["status"]
            if i < len(repositories):
                await sleep_if_needed(ctx, f"wait-rate-limit-{i}", outcome["back_off_until"])
        return {"repositories": results}

    return [
        pr_details,
        sync_graphql,
        sync_enhanced,
        classify_all,
        classify_single,
        discover,
        sync_priorities,
        sync_discussions,
    ]
