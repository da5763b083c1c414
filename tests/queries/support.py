"""Shared pieces of the query tests: a fake source API (respx side effect) and credentials."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

API = "https://api.acme.test/items"
JWT_SECRET = "test-jwt-secret-with-enough-length-0123"
USER = "user-1"
PER_PAGE = 20
GOOGLE_KEY = "AIza-test-key"


def token(user: str = USER) -> dict[str, str]:
    claims = {"sub": user, "exp": int(time.time()) + 3600, "aud": "authenticated"}
    return {"Authorization": f"Bearer {jwt.encode(claims, JWT_SECRET, algorithm='HS256')}"}


def config(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": {
            "kind": "http",
            "url": API,
            "results_path": "items",
            "row_key": "id",
            "pagination": {"style": "page", "size": PER_PAGE},
        },
        "credential": "acme",
        "page_delay_s": 2,
    }
    body.update(overrides)
    return body


def pages_api(
    total_pages: int, faults: dict[int, list[httpx.Response | Exception]] | None = None
) -> tuple[Callable[[httpx.Request], httpx.Response], list[int]]:
    """A page-numbered API of `total_pages` full pages; `faults[page]` answers first, in order."""
    faults = {page: list(answers) for page, answers in (faults or {}).items()}
    calls: list[int] = []

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer acme-token"
        page = int(request.url.params["page"])
        calls.append(page)
        if faults.get(page):
            fault = faults[page].pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault
        items = (
            []
            if page > total_pages
            else [
                {"id": f"p{page}-{i}", "title": f"row {i} of page {page}"} for i in range(PER_PAGE)
            ]
        )
        return httpx.Response(200, json={"items": items, "page": page})

    return answer, calls


def query_settings() -> dict[str, Any]:
    """Settings overrides: the JWT secret, the `acme` credential (bound to the fake API's host)
    and a Google API key (bound to Google's API host by default)."""
    return {
        "supabase_jwt_secret": JWT_SECRET,
        "query_credentials": {"acme": "Bearer acme-token", "google": GOOGLE_KEY},
        "query_credential_hosts": {"acme": "api.acme.test"},
        "query_min_page_delay_s": 0,  # each test picks its delays; the floor has its own test
    }
