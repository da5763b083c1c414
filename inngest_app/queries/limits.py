"""Caps on the outbound work one query may ask for (the operator's `QUERY_MAX_*` settings)."""

from __future__ import annotations

from inngest_app.queries.config import HttpJsonSource, Offset, PageNumber, QueryConfig
from inngest_app.settings import Settings


def cap_violation(config: QueryConfig, settings: Settings) -> str | None:
    """What in `config` is over the operator's caps (naming the field), or None."""
    if config.max_rows > settings.query_max_rows:
        return f"max_rows: at most {settings.query_max_rows}"
    if config.max_pages > settings.query_max_pages:
        return f"max_pages: at most {settings.query_max_pages}"
    source = config.source
    if isinstance(source, HttpJsonSource):
        pagination = source.pagination
        size = None
        if isinstance(pagination, PageNumber):
            size = pagination.size
        elif isinstance(pagination, Offset):
            size = pagination.limit
        if size is not None and size > settings.query_max_page_size:
            return f"source.pagination: page size at most {settings.query_max_page_size}"
    return None


def page_delay_s(config: QueryConfig, settings: Settings) -> float:
    """The sleep between two pages: the query's (or the default), never under the minimum."""
    asked = (
        settings.query_default_page_delay_s if config.page_delay_s is None else config.page_delay_s
    )
    return max(asked, settings.query_min_page_delay_s)


def run_caps(settings: Settings, *, max_pages: int, max_rows: int) -> tuple[int, int]:
    """The page and row caps a run applies: the query's, lowered to today's settings."""
    return min(max_pages, settings.query_max_pages), min(max_rows, settings.query_max_rows)
