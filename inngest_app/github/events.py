"""The GitHub capture events: names and payloads, exactly as the seed's senders use them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from inngest_app.events import EventPayload
from inngest_app.github.plan import GithubName, GithubOwner, SyncReason

PR_DETAILS = "capture/pr.details"
REPOSITORY_SYNC = "capture/repository.sync"
REPOSITORY_SYNC_ENHANCED = "capture/repository.sync-enhanced"
CLASSIFY_ALL = "classify/repository.size"
CLASSIFY_ONE = "classify/single-repository"
DISCOVER = "discover/new-repository"
WORKSPACE_PRIORITIES = "sync/workspace-priorities"
CANCEL = "cancel/function"
# One repository's discussions (the 6-hourly cron fans out one event per repository).
DISCUSSIONS_SYNC = "capture/repository.discussions"
# A fan-out that stopped at its slice hands over to a fresh run with these.
DISCUSSIONS_FAN_OUT = "sync/discussions.fan-out"

MAX_ENHANCED_PAGES = 50


class RepositoryRef(BaseModel):
    """`{owner, name, github_id?}`: owner and name checked against GitHub's rules (they go
    into URL paths)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    owner: GithubOwner
    name: GithubName
    github_id: int | None = None

    @property
    def full_name(self) -> str:
        """`owner/name`."""
        return f"{self.owner}/{self.name}"


class PrDetailsRequested(EventPayload):
    """Data of `capture/pr.details`."""

    repository: RepositoryRef
    pr_number: int = Field(..., ge=1)


class RepositorySyncRequested(EventPayload):
    """Data of `capture/repository.sync`. `reason` sets how recent a sync may be skipped."""

    repository: RepositoryRef
    reason: SyncReason = "manual"


class EnhancedSyncRequested(EventPayload):
    """Data of `capture/repository.sync-enhanced`: pull requests with nested activity."""

    repository: RepositoryRef
    # pages of 50 one run reads at most (a longer pass continues in a fresh run); by default
    # twice the plain sync's pages of 100 for the repository's size class
    pages: int | None = Field(None, ge=1, le=MAX_ENHANCED_PAGES)
    reason: SyncReason = "manual"


class ClassifyAllRequested(EventPayload):
    """Data of `classify/repository.size`: nothing, or a continuation's place in the list."""

    after: int | None = Field(None, ge=0)
    started: str | None = Field(None, max_length=40)


class DiscussionsFanOut(EventPayload):
    """Data of `sync/discussions.fan-out`: where the cron's fan-out goes on, and its tick."""

    after: int = Field(0, ge=0)
    tick: str = Field(..., min_length=1, max_length=40)


class RepositoryRequested(EventPayload):
    """Data of `classify/single-repository` and `discover/new-repository`."""

    repository: RepositoryRef


def repository_data(owner: str, name: str, github_id: int | None = None) -> dict[str, Any]:
    """The `repository` of an event this service sends: owner and name lower-cased, so that
    `Acme/Widgets` and `acme/widgets` share concurrency keys and cancellations (GitHub's
    names are case-insensitive)."""
    data: dict[str, Any] = {"owner": owner.lower(), "name": name.lower()}
    if github_id is not None:
        data["github_id"] = str(github_id)
    return data


# The seed's cancelOn: a user's cancel of the same repository's run.
CANCEL_IF = (
    "async.data.reason == 'user_requested'"
    " && async.data.repository.owner == event.data.repository.owner"
    " && async.data.repository.name == event.data.repository.name"
)
# The concurrency key of every per-repository function, shared across them (`env` scope): no
# two GitHub calls for one repository at once, whichever functions make them.
REPOSITORY_KEY = "'repository:' + event.data.repository.owner + '/' + event.data.repository.name"
