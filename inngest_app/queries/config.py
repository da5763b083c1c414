"""What a user may ask for: a query's configuration, validated at creation."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

MAX_PAGES_LIMIT = 1000
GOOGLE_CSE_MAX_RESULTS = 100  # the Custom Search JSON API serves at most 100 results a query


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PageNumber(_Strict):
    """`?page=1,2,3…`; stops on an empty page."""

    style: Literal["page"]
    param: str = "page"
    start: int = 1
    size_param: str | None = None
    size: int | None = Field(None, ge=1)


class Offset(_Strict):
    """`?offset=0,limit,2*limit…`; stops on a short page."""

    style: Literal["offset"]
    param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(100, ge=1, le=10_000)


class CursorField(_Strict):
    """A cursor read from the response (`next_path`) sent back as `param`; stops when absent."""

    style: Literal["cursor"]
    param: str = "cursor"
    next_path: str = Field(..., min_length=1)


class LinkHeader(_Strict):
    """RFC 8288 `Link: <…>; rel="next"` (GitHub-style); stops when there is no next link."""

    style: Literal["link"]


class SinglePage(_Strict):
    """No pagination: one request."""

    style: Literal["none"]


Pagination = Annotated[
    PageNumber | Offset | CursorField | LinkHeader | SinglePage, Field(discriminator="style")
]


class HttpJsonSource(_Strict):
    """A paginated HTTP JSON API, configured per query."""

    kind: Literal["http"] = "http"
    url: HttpUrl
    method: Literal["GET", "POST"] = "GET"
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    results_path: str = Field("", description="dotted path to the list of rows; '' = the root")
    row_key: str = Field(..., min_length=1, description="dotted path of the field unique per row")
    pagination: Pagination = Field(default_factory=lambda: SinglePage(style="none"))

    @model_validator(mode="after")
    def _no_secrets_in_headers(self) -> HttpJsonSource:
        for name in self.headers:
            if name.lower() in {"authorization", "cookie", "x-api-key", "proxy-authorization"}:
                raise ValueError(
                    f"header {name!r} must come from a named credential, not the query"
                )
        return self


class GoogleSearchSource(_Strict):
    """The seed's preset: Google Custom Search, 10 results a page, `start` advanced by 10."""

    kind: Literal["google_cse"]
    q: str = Field(..., min_length=1, max_length=2048)
    cx: str = Field(..., min_length=1)
    max_results: int = Field(100, ge=1, le=GOOGLE_CSE_MAX_RESULTS)


Source = Annotated[HttpJsonSource | GoogleSearchSource, Field(discriminator="kind")]


class QueryConfig(_Strict):
    """A query as `POST /api/queries/run` accepts it."""

    source: Source
    credential: str | None = Field(None, pattern=r"^[A-Za-z0-9_]+$")
    page_delay_s: float | None = Field(None, ge=0, le=3600)
    max_pages: int = Field(100, ge=1, le=MAX_PAGES_LIMIT)
    max_rows: int = Field(100_000, ge=1, le=10_000_000)
    auto_resume: bool = False
