"""GitHub's GraphQL API for tests: each posted document is validated and executed against the
real schema (`schema.graphql`) over in-memory repositories, so every answer has exactly the shape
GitHub would give that document. Pagination and ordering of `pullRequests`/`discussions`,
`rateLimit` and `NOT_FOUND` follow GitHub's behaviour; node data is seeded from the recorded
fixtures (see `pull_request_from_rest`, `pull_requests_from_pr_list`).
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
from dataclasses import dataclass, field
from typing import Any

import graphql
import httpx

from tests.github import support

API = "https://api.github.com"
GRAPHQL_URL = f"{API}/graphql"
T0 = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


def iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


class _NotFound(graphql.GraphQLError):
    pass


@functools.cache
def schema() -> graphql.GraphQLSchema:
    built = graphql.build_schema(support.SCHEMA.read_text(), assume_valid=True)
    query = built.query_type
    assert query is not None
    query.fields["repository"].resolve = _resolve_repository
    query.fields["rateLimit"].resolve = lambda _root, info, **_: info.context.rate_limit()
    repository = built.get_type("Repository")
    assert isinstance(repository, graphql.GraphQLObjectType)
    repository.fields["pullRequests"].resolve = _connection("pullRequests")
    repository.fields["discussions"].resolve = _connection("discussions")
    return built


def _resolve_repository(
    _root: Any, info: graphql.GraphQLResolveInfo, owner: str, name: str, **_: Any
) -> Any:
    found = info.context.repositories.get((owner.lower(), name.lower()))
    if found is None:
        raise _NotFound(
            f"Could not resolve to a Repository with the name '{owner}/{name}'.",
            extensions={"type": "NOT_FOUND"},
        )
    return found


def _connection(key: str) -> Any:
    def resolve(
        repo: dict[str, Any],
        _info: graphql.GraphQLResolveInfo,
        first: int | None = None,
        after: str | None = None,
        orderBy: dict[str, Any] | None = None,  # noqa: N803 (GraphQL's name)
        **_: Any,
    ) -> dict[str, Any]:
        nodes = list(repo[key])
        order = (orderBy or {}).get("field", "CREATED_AT")
        sort_key = "updatedAt" if order == "UPDATED_AT" else "createdAt"
        nodes.sort(key=lambda n: n[sort_key], reverse=(orderBy or {}).get("direction") == "DESC")
        start = int(after) if after else 0
        end = len(nodes) if first is None else start + first
        return {
            "totalCount": len(nodes),
            "nodes": nodes[start:end],
            "pageInfo": {"hasNextPage": end < len(nodes), "endCursor": str(min(end, len(nodes)))},
        }

    return resolve


def actor(login: str, database_id: int, typename: str = "User") -> dict[str, Any]:
    return {
        "__typename": typename,
        "login": login,
        "databaseId": database_id,
        "avatarUrl": f"https://avatars.githubusercontent.com/u/{database_id}?v=4",
        "url": f"https://github.com/{login}",
        "resourcePath": f"/{login}",
    }


def pull_request(
    number: int,
    *,
    database_id: int | None = None,
    updated: dt.datetime = T0,
    created: dt.datetime | None = None,
    author: dict[str, Any] | None = None,
    state: str = "OPEN",
    draft: bool = False,
    title: str | None = None,
    reviews: list[dict[str, Any]] | None = None,
    comments: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A `PullRequest` node with every field the service's documents ask for."""
    created = created or updated - dt.timedelta(days=1)
    merged = state == "MERGED"
    return {
        "fullDatabaseId": str(database_id or 9_000_000 + number),
        "id": f"PR_node_{number}",
        "number": number,
        "title": title or f"Pull request {number}",
        "state": state,
        "isDraft": draft,
        "merged": merged,
        "mergedAt": iso(updated) if merged else None,
        "createdAt": iso(created),
        "updatedAt": iso(updated),
        "closedAt": iso(updated) if state != "OPEN" else None,
        "additions": 10 + number,
        "deletions": number,
        "changedFiles": 1 + number % 5,
        "baseRefName": "main",
        "headRefName": f"branch-{number}",
        "url": f"https://github.com/acme/widgets/pull/{number}",
        "commits": {"totalCount": 1 + number % 3},
        "author": author,
        "reviews": {"nodes": reviews or []},
        "comments": {"nodes": comments or []},
    }


def review(database_id: int, author: dict[str, Any] | None, *, comments: int = 0) -> dict[str, Any]:
    return {
        "fullDatabaseId": str(database_id),
        "state": "APPROVED",
        "submittedAt": iso(T0),
        "url": f"https://github.com/acme/widgets/pull/1#pullrequestreview-{database_id}",
        "author": author,
        "comments": {
            "nodes": [
                comment(database_id * 100 + i, author, path="src/app.py") for i in range(comments)
            ]
        },
    }


def comment(
    database_id: int, author: dict[str, Any] | None, path: str | None = None
) -> dict[str, Any]:
    node = {
        "fullDatabaseId": str(database_id),
        "createdAt": iso(T0),
        "updatedAt": iso(T0),
        "url": f"https://github.com/acme/widgets/pull/1#issuecomment-{database_id}",
        "author": author,
    }
    if path is not None:
        node["path"] = path
    return node


def pull_requests_from_pr_list() -> list[dict[str, Any]]:
    """The gh CLI's recorded `pullRequests` page (numbers, titles, states, drafts, dates),
    completed with the fields it does not carry."""
    recorded = support.load("graphql/responses/gh-cli.pr-list.prList.json")
    nodes = recorded["data"]["repository"]["pullRequests"]["nodes"]
    out = []
    for i, node in enumerate(nodes):
        created = dt.datetime.fromisoformat(node["createdAt"].replace("Z", "+00:00"))
        pr = pull_request(
            node["number"],
            created=created,
            updated=created + dt.timedelta(hours=1 + i),
            state=node["state"],
            draft=node["isDraft"],
            title=node["title"],
            author=actor("monalisa", 1000 + i),
        )
        pr["url"], pr["headRefName"] = node["url"], node["headRefName"]
        out.append(pr)
    return out


@dataclass
class FakeGithub:
    """In-memory GitHub GraphQL; `handle` is a respx side effect."""

    repositories: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    remaining: int = 5000
    reset_at: dt.datetime = T0 + dt.timedelta(hours=1)
    cost: int = 1
    queries: list[str] = field(default_factory=list)

    def add_repository(
        self,
        owner: str,
        name: str,
        *,
        database_id: int,
        pull_requests: list[dict[str, Any]] | None = None,
        discussions: list[dict[str, Any]] | None = None,
        stars: int = 42,
    ) -> dict[str, Any]:
        repo = {
            "databaseId": database_id,
            "id": f"R_node_{database_id}",
            "name": name,
            "owner": {"__typename": "Organization", "login": owner},
            "stargazerCount": stars,
            "forkCount": 7,
            "isPrivate": False,
            "hasDiscussionsEnabled": discussions is not None,
            "defaultBranchRef": {"name": "main"},
            "pullRequests": list(pull_requests or []),
            "discussions": list(discussions or []),
        }
        self.repositories[(owner.lower(), name.lower())] = repo
        return repo

    def rate_limit(self) -> dict[str, Any]:
        return {
            "cost": self.cost,
            "remaining": self.remaining,
            "resetAt": iso(self.reset_at),
            "limit": 5000,
            "used": 5000 - self.remaining,
            "nodeCount": 0,
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.queries.append(body["query"])
        document = graphql.parse(body["query"])
        invalid = graphql.validate(schema(), document)
        if invalid:  # GitHub answers an invalid document with 200 and errors, no data
            errors = [{"message": e.message, "type": "INVALID"} for e in invalid]
            return httpx.Response(200, json={"errors": errors})
        self.remaining -= self.cost
        result = graphql.execute_sync(
            schema(),
            document,
            context_value=self,
            variable_values=body.get("variables") or {},
        )
        payload: dict[str, Any] = {"data": copy.deepcopy(result.data)}
        if result.errors:
            payload["errors"] = [
                {
                    "type": (e.extensions or {}).get("type", "INTERNAL"),
                    "path": e.path,
                    "message": e.message,
                }
                for e in result.errors
            ]
        headers = {
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(int(self.reset_at.timestamp())),
            "x-ratelimit-resource": "graphql",
        }
        return httpx.Response(200, json=payload, headers=headers)
