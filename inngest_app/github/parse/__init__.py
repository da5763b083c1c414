"""GitHub's answers (REST JSON, GraphQL nodes) read into rows. Pure functions, no I/O.

Deleted accounts come back as `null` (GraphQL, some REST endpoints) or as the `ghost` user
(REST): both become a null author, never an error. Fields GitHub's real data leaves null where
the documented schema does not (e.g. review comments' `start_side`) are simply not read.
"""

from __future__ import annotations

from inngest_app.github.parse.common import GHOST_ID, GHOST_LOGIN, Batch, size_class
from inngest_app.github.parse.graphql import (
    gql_actor,
    gql_discussions,
    gql_pull_request,
    gql_repository,
)
from inngest_app.github.parse.rest import (
    rest_comments,
    rest_pull_request,
    rest_repository,
    rest_reviews,
    rest_user,
)

__all__ = [
    "GHOST_ID",
    "GHOST_LOGIN",
    "Batch",
    "gql_actor",
    "gql_discussions",
    "gql_pull_request",
    "gql_repository",
    "rest_comments",
    "rest_pull_request",
    "rest_repository",
    "rest_reviews",
    "rest_user",
    "size_class",
]
