"""Issue 22: hypothesis over every declared body model, with the hostile client's alphabet.

Schemathesis generates from the schema, so it rarely sends what the schema cannot say: lone
surrogates, NUL, `NaN`, `1e309`, integers past 64 bits, JSON nested hundreds deep. Here every
route that declares a body gets a valid body with one field (or an unknown key) replaced by such
a value, through HTTP, signed where the route needs it. Every answer must be 2xx or a 4xx in the
error shape, and a 4xx must write no row.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inngest_app.routes.api import ApiRoute
from inngest_app.stripe.signature import sign
from tests.fuzz.support import ADMIN_KEY, Rows, live_in_thread, seed_rows, user_token
from tests.harness import LiveFactory
from tests.queries.support import config, query_settings
from tests.skills.support import skill_settings
from tests.stripe.support import load_event

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
STRIPE_SECRET = "whsec_fuzz_hostile_0123"


class Raw:
    """JSON text written as is (`NaN`, `1e309`, deep nesting): what `json.dumps` cannot make."""

    def __init__(self, text: str) -> None:
        self.text = text


def encode(value: Any) -> str:
    """JSON text of `value` (ASCII: lone surrogates as `\\udxxx` escapes); `Raw` verbatim."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)


HOSTILE_CHARS = st.sampled_from(["\x00", "\ud800", "\udfff", "\x07", "\n", "\u202e", "\x85"])
TEXT = st.text(alphabet=st.one_of(st.characters(), HOSTILE_CHARS), max_size=40)
LEAF = st.one_of(
    TEXT,  # text three times as likely: most fields are text
    TEXT,
    TEXT,
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.sampled_from(
        [Raw("NaN"), Raw("Infinity"), Raw("-Infinity"), Raw("1e309"), Raw("-1e400"),
         Raw(str(2**64)), Raw(str(-(2**63) - 1)), Raw("1" * 5000)]
    ),
    st.integers(1, 400).map(lambda n: Raw("[" * n + "]" * n)),
)  # fmt: skip
VALUE = st.recursive(
    LEAF,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)


def _valid(path: str, seeded: dict[str, str]) -> tuple[str, dict[str, Any]] | None:
    """A valid body for each body route, at a path naming the seeded rows."""
    ws = seeded["workspace_id"]
    bodies: dict[str, tuple[str, dict[str, Any]]] = {
        "/api/runs": ("/api/runs", {"skillName": "marketing-brief", "message": "Hi"}),
        "/api/queries/run": ("/api/queries/run", config()),
        "/api/workspaces": ("/api/workspaces", {"name": "Team", "dataRetentionDays": 30}),
        "/api/workspaces/{workspace_id}/repositories/{owner}/{name}": (
            f"/api/workspaces/{ws}/repositories/acme/app",
            {"isPriority": False},
        ),
        "/api/repositories": ("/api/repositories", {"owner": "acme", "name": "app"}),
        "/api/inngest/test": ("/api/inngest/test", {"name": "fuzz/none", "data": {"a": 1}}),
        "/api/stripe/webhook": ("/api/stripe/webhook", load_event("invoice.paid.json")),
        "/api/clients": ("/api/clients", {"slug": "fuzz", "name": "Fuzz"}),
        "/api/channels": ("/api/channels", {"channel": "telegram", "target": "12345"}),
    }
    if "output_id" in seeded:
        bodies["/api/outputs/{output_id}/feedback"] = (
            f"/api/outputs/{seeded['output_id']}/feedback",
            {"overall": 4, "issues": ["x"], "comment": "ok"},
        )
    return bodies.get(path)


def _replace(body: Any, path: list[str], value: Any) -> Any:
    """`body` with the value at `path` (keys and indexes) replaced; a new key when absent."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(body, dict):
        copy = dict(body)
        copy[head] = _replace(body.get(head, {}), rest, value) if rest else value
        return copy
    if isinstance(body, list) and head.isdigit() and int(head) < len(body):
        copy_list = list(body)
        copy_list[int(head)] = _replace(body[int(head)], rest, value)
        return copy_list
    return value


def _paths(body: Any, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    """Every key path in `body` (where a hostile value can go), nested ones included."""
    found: list[list[str]] = []
    items = body.items() if isinstance(body, dict) else enumerate(body)
    for key, child in items:
        here = (*prefix, str(key))
        found.append(list(here))
        if isinstance(child, dict | list) and len(here) < 4:
            found += _paths(child, here)
    return found


@pytest.mark.timeout(1800)
def test_hostile_values_in_any_body_field_are_refused_cleanly(
    start_live: LiveFactory, database_url: str, tmp_path: Path
) -> None:
    overrides = {
        **query_settings(),
        **skill_settings(tmp_path, skill_runs_per_hour=100_000),
        "monitoring_api_key": ADMIN_KEY,
        "stripe_webhook_secret": STRIPE_SECRET,
        "query_max_running_per_user": 100_000,
    }
    failures: list[str] = []
    statuses: Counter[str] = Counter()
    with live_in_thread(start_live, **overrides) as (live, loop):
        seeded = seed_rows(live.app_url, live, loop)
        routes = [r for r in live.app.routes if isinstance(r, ApiRoute) and r.operation.body]
        rows = Rows(database_url)
        session = requests.Session()
        try:
            for route in routes:
                target = _valid(route.path, seeded)
                assert target is not None, f"no valid body for {route.path}: add one"
                _hostile(route.path, *target, live.app_url, session, rows, failures, statuses)
        finally:
            rows.close()
            session.close()
    print(f"\nhostile bodies: {sum(statuses.values())} cases over {len(routes)} routes, "
          f"{len(failures)} failures")  # fmt: skip
    for line in sorted(statuses):
        print(f"  {line}: {statuses[line]}")
    assert not failures, "\n".join(sorted(set(failures))[:30])


def _hostile(
    template: str,
    path: str,
    valid: dict[str, Any],
    base_url: str,
    session: requests.Session,
    rows: Rows,
    failures: list[str],
    statuses: Counter[str],
) -> None:
    targets = [*_paths(valid), ["surprise"]]
    webhook = path == "/api/stripe/webhook"

    @settings(
        max_examples=EXAMPLES * 2,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=os.environ.get("FUZZ_SEED") is None,
    )
    @given(where=st.sampled_from(targets), value=VALUE)
    def run(where: list[str], value: Any) -> None:
        text = encode(_replace(valid, where, value))
        headers = {"Content-Type": "application/json", "Authorization": user_token()}
        if webhook:  # signed as Stripe signs: the route's parsing is reached
            headers["Stripe-Signature"] = sign(text, STRIPE_SECRET)
        before = rows.counts()
        response = session.post(
            f"{base_url}{path}", data=text.encode(), headers=headers, timeout=30
        )
        statuses[f"POST {template} {response.status_code}"] += 1
        label = f"POST {path} {'.'.join(where)}={text[:80]!r} -> {response.status_code}"
        if response.status_code >= 500:
            failures.append(f"{label}: {response.text[:200]}")
        elif response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                failures.append(f"{label}: not JSON")
                return
            if set(body) < {"error", "code", "field"}:
                failures.append(f"{label}: not the error shape: {body}")
            if rows.counts() != before:
                failures.append(f"{label}: a refusal wrote rows")

    run()
