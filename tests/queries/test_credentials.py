"""Credential bindings and query caps (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from inngest_app.queries.config import QueryConfig
from inngest_app.queries.credentials import CredentialRefused, authorize, lookup
from inngest_app.queries.limits import cap_violation, page_delay_s, run_caps
from inngest_app.settings import Settings


def _settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "inngest_dev": True,
        "query_credentials": {"acme": "Bearer a", "google": "AIza", "loose": "x"},
        "query_credential_hosts": {"acme": "api.acme.test,Other.Acme.Test."},
    }
    return Settings(**{**values, **overrides})


def _config(url: str = "https://api.acme.test/items", **overrides: Any) -> QueryConfig:
    body = {"source": {"kind": "http", "url": url, "row_key": "id"}, **overrides}
    return QueryConfig.model_validate(body)


@pytest.mark.parametrize(
    "url",
    ["https://api.acme.test/x", "https://API.ACME.TEST./x", "http://other.acme.test:8080/x"],
)
def test_bound_hosts_match_by_name_whatever_the_case_port_or_final_dot(url: str) -> None:
    credential = lookup(_settings(), "ACME")
    assert credential is not None and credential.allows_host(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.acme.test.evil.example/x",
        "https://evil.example/?api.acme.test",
        "https://api.acme.test@evil.example/",
        "https://xapi.acme.test/",
    ],
)
def test_other_hosts_do_not_match(url: str) -> None:
    credential = lookup(_settings(), "acme")
    assert credential is not None and not credential.allows_host(url)


def test_authorize_refusals() -> None:
    settings = _settings(query_credential_users={"acme": "u1"})
    source = _config().source
    assert authorize(settings, "acme", source, user_id="u1", is_admin=False).name == "acme"
    assert authorize(settings, "acme", source, user_id=None, is_admin=True).name == "acme"
    with pytest.raises(CredentialRefused) as forbidden:
        authorize(settings, "acme", source, user_id="u2", is_admin=False)
    assert forbidden.value.status == 403
    with pytest.raises(CredentialRefused, match="bound to no host"):
        authorize(settings, "loose", source, user_id="u1", is_admin=False)
    with pytest.raises(CredentialRefused, match="unknown"):
        authorize(settings, "nope", source, user_id="u1", is_admin=False)
    with pytest.raises(CredentialRefused, match="may not be sent to www.googleapis.com"):
        google = QueryConfig.model_validate({"source": {"kind": "google_cse", "q": "q", "cx": "c"}})
        authorize(settings, "acme", google.source, user_id="u1", is_admin=False)


def test_caps_and_the_delay_floor() -> None:
    settings = _settings(query_max_rows=10, query_max_pages=3, query_min_page_delay_s=2)
    assert cap_violation(_config(max_rows=10, max_pages=3), settings) is None
    assert "max_rows" in (cap_violation(_config(max_rows=11), settings) or "")
    assert page_delay_s(_config(page_delay_s=0), settings) == 2
    assert page_delay_s(_config(page_delay_s=5), settings) == 5
    assert run_caps(settings, max_pages=100, max_rows=5) == (3, 5)
