"""Every GraphQL document the service sends, validated against GitHub's real schema."""

from __future__ import annotations

import functools

import graphql
import pytest

from inngest_app.github.documents import DOCUMENTS, SYNC_PULL_REQUESTS, sizes_document
from tests.github import support

SCHEMA = support.SCHEMA


@functools.cache
def schema() -> graphql.GraphQLSchema:
    # GitHub's SDL breaks a newer spec rule graphql-core 3.3 enforces (see the fixtures' NOTES).
    return graphql.build_schema(SCHEMA.read_text(), assume_valid=True)


def problems(document: str) -> list[str]:
    return [e.message for e in graphql.validate(schema(), graphql.parse(document))]


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_document_is_valid(name: str) -> None:
    assert problems(DOCUMENTS[name]) == []


@pytest.mark.parametrize("count", [1, 3, 50])
def test_sizes_document_is_valid(count: int) -> None:
    assert problems(sizes_document(count)) == []


def test_validation_rejects_the_seeds_filter_by() -> None:
    seed = SYNC_PULL_REQUESTS.replace(
        "pullRequests(first: $first,", "pullRequests(filterBy: {states: [OPEN]}, first: $first,"
    )
    assert seed != SYNC_PULL_REQUESTS
    assert any("Unknown argument 'filterBy'" in p for p in problems(seed))
