"""Every GraphQL document the service sends to GitHub.

Each is validated against GitHub's schema in `tests/github/test_documents.py` (the seed once
shipped `pullRequests(filterBy: ...)`, which GitHub rejects). Every query asks for
`rateLimit { cost remaining resetAt }` so a sync can back off before the budget runs out.
Pull requests are read newest-updated first: an incremental sync stops at its watermark, and a
pull request updated after its capture comes back to the top.
"""

from __future__ import annotations

RATE_LIMIT = "rateLimit { cost remaining resetAt }"

ACTOR = """
fragment ActorFields on Actor {
  __typename
  login
  avatarUrl
  ... on User { databaseId }
  ... on Bot { databaseId }
  ... on Organization { databaseId }
  ... on Mannequin { databaseId }
}
"""

REPOSITORY = """
fragment RepositoryFields on Repository {
  databaseId
  id
  name
  owner { login }
  stargazerCount
  forkCount
  isPrivate
  hasDiscussionsEnabled
  defaultBranchRef { name }
  allPullRequests: pullRequests { totalCount }
}
"""

PULL_REQUEST = """
fragment PullRequestFields on PullRequest {
  fullDatabaseId
  id
  number
  title
  state
  isDraft
  merged
  mergedAt
  createdAt
  updatedAt
  closedAt
  additions
  deletions
  changedFiles
  baseRefName
  headRefName
  url
  commits { totalCount }
  author { ...ActorFields }
}
"""

# One page of pull requests with the repository's metadata (which also sizes it).
SYNC_PULL_REQUESTS = (
    """
query SyncPullRequests($owner: String!, $name: String!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    ...RepositoryFields
    pullRequests(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes { ...PullRequestFields }
    }
  }
}
"""
    + REPOSITORY
    + PULL_REQUEST
    + ACTOR
)

# The same page with each pull request's reviews, their diff comments and the issue comments
# nested: one request instead of three per pull request.
SYNC_ENHANCED = (
    """
query SyncEnhanced(
  $owner: String!, $name: String!, $first: Int!, $after: String,
  $reviews: Int!, $reviewComments: Int!, $comments: Int!
) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    ...RepositoryFields
    pullRequests(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes {
        ...PullRequestFields
        reviews(first: $reviews) {
          nodes {
            fullDatabaseId
            state
            submittedAt
            url
            author { ...ActorFields }
            comments(first: $reviewComments) {
              nodes { fullDatabaseId path createdAt updatedAt url author { ...ActorFields } }
            }
          }
        }
        comments(first: $comments) {
          nodes { fullDatabaseId createdAt updatedAt url author { ...ActorFields } }
        }
      }
    }
  }
}
"""
    + REPOSITORY
    + PULL_REQUEST
    + ACTOR
)

# A repository's metadata and pull-request count (discovery, single classification).
REPOSITORY_METADATA = (
    """
query RepositoryMetadata($owner: String!, $name: String!) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) { ...RepositoryFields }
}
"""
    + REPOSITORY
)

DISCUSSIONS = (
    """
query Discussions($owner: String!, $name: String!, $first: Int!) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    discussions(first: $first, orderBy: {field: UPDATED_AT, direction: DESC}) {
      nodes {
        databaseId
        number
        title
        createdAt
        updatedAt
        closed
        isAnswered
        upvoteCount
        url
        category { name }
        comments { totalCount }
        author { ...ActorFields }
      }
    }
  }
}
"""
    + ACTOR
)


def sizes_document(count: int) -> str:
    """One query for the pull-request counts of `count` repositories (aliases `r0`, `r1`, ...;
    variables `o0`/`n0`, ...): a whole classification batch costs one request."""
    if count < 1:
        raise ValueError("count must be at least 1")
    params = ", ".join(f"$o{i}: String!, $n{i}: String!" for i in range(count))
    fields = "\n".join(
        f"  r{i}: repository(owner: $o{i}, name: $n{i}) "
        "{ databaseId allPullRequests: pullRequests { totalCount } }"
        for i in range(count)
    )
    return f"query RepositorySizes({params}) {{\n  {RATE_LIMIT}\n{fields}\n}}\n"


# Every static document, for the schema test.
DOCUMENTS = {
    "SYNC_PULL_REQUESTS": SYNC_PULL_REQUESTS,
    "SYNC_ENHANCED": SYNC_ENHANCED,
    "REPOSITORY_METADATA": REPOSITORY_METADATA,
    "DISCUSSIONS": DISCUSSIONS,
}
