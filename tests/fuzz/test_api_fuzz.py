"""Issue 22: schemathesis over every operation of the generated OpenAPI document, real Postgres.

Valid and invalid data (the schema's positive and negative modes), with a user token, the admin
key, no credentials or garbage ones; the Stripe webhook also with bodies signed as Stripe signs.
Every answer must: not be a 5xx; have a documented status, content type and schema (every error
in the `{error, code, field}` shape); and a refusal (4xx) must leave the request-written tables as
they were. `FUZZ_EXAMPLES` sets the examples per operation and mode (`make fuzz` raises it); the
case count and the failures are printed at the end.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from inngest_app.stripe.signature import sign
from tests.fuzz.support import ADMIN_KEY, Rows, live_in_thread, seed_rows, user_token
from tests.harness import LiveFactory
from tests.queries.support import query_settings
from tests.skills.support import skill_settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "30"))
STRIPE_SECRET = "whsec_fuzz_0123456789"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SKIPPED_TAGS = {"inngest-sdk"}  # Inngest's protocol: tests/security/test_sdk_error_shape.py


CREDENTIALS = st.sampled_from(
    [user_token()] * 5 + [f"Bearer {ADMIN_KEY}", None, "Bearer not-a-token", user_token("other")]
)


@pytest.mark.timeout(1800)
def test_no_operation_answers_a_5xx_or_off_contract(
    start_live: LiveFactory, database_url: str, tmp_path: Path
) -> None:
    overrides = {
        **query_settings(),
        **skill_settings(tmp_path),
        "monitoring_api_key": ADMIN_KEY,
        "stripe_webhook_secret": STRIPE_SECRET,
    }
    cases: list[int] = [0]
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    with live_in_thread(start_live, **overrides) as (live, loop):
        seeded = seed_rows(live.app_url, live, loop)
        document = requests.get(f"{live.app_url}/api/openapi.json", timeout=30).json()
        schema = schemathesis.openapi.from_dict(document)
        rows = Rows(database_url)
        session = requests.Session()
        try:
            operations = [r.ok() for r in schema.get_all_operations()]
            for operation in operations:
                if SKIPPED_TAGS & set(operation.definition.raw.get("tags", [])):
                    continue
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                    _fuzz(operation, mode, live.app_url, session, rows, cases, failures, statuses,
                          seeded)  # fmt: skip
            _stateful(schema, live.app_url, session, cases, failures, statuses)
        finally:
            rows.close()
            session.close()
    print(f"\nfuzz: {cases[0]} cases over {len(operations)} operations, "
          f"{len(failures)} failures")  # fmt: skip
    for line in sorted(statuses):
        print(f"  {line}: {statuses[line]}")
    assert not failures, "\n".join(sorted(set(failures))[:40])


def _signable(body: Any) -> str | None:
    """The body as the text Stripe would sign, or None when it is no text."""
    try:
        return body.decode() if isinstance(body, bytes) else json.dumps(body)
    except (TypeError, ValueError):
        return None


def _fuzz(
    operation: Any,
    mode: GenerationMode,
    base_url: str,
    session: requests.Session,
    rows: Rows,
    cases: list[int],
    failures: list[str],
    statuses: Counter[str],
    seeded: dict[str, str],
) -> None:
    webhook = operation.path == "/api/stripe/webhook"
    names = {p.name for p in operation.path_parameters}
    known = {name: value for name, value in seeded.items() if name in names}
    if operation.path.endswith("/stream"):
        known = {}  # a resumed query's stream lasts until the query ends: random ids only
    if {"owner", "name"} <= names:
        known |= {"owner": "acme", "name": "app"}
    strategy = operation.as_strategy(generation_mode=mode)
    if known:  # half the cases name the seeded rows, so handlers past the lookup run too
        strategy = strategy | operation.as_strategy(generation_mode=mode, path_parameters=known)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=os.environ.get("FUZZ_SEED") is None,
    )
    @given(case=strategy, data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        headers: dict[str, str] = {}
        credential = data.draw(CREDENTIALS)
        if credential is not None:
            headers["Authorization"] = credential
        kwargs: dict[str, Any] = {}
        raw = _signable(case.body) if webhook and data.draw(st.booleans()) else None
        if raw is not None:  # signed as Stripe signs: the route's parsing is reached
            headers["Stripe-Signature"] = sign(raw, STRIPE_SECRET)
            headers["Content-Type"] = "application/json"
            kwargs["data"] = raw.encode()
            case.body = None
        before = rows.counts()
        response = case.call(base_url=base_url, session=session, headers=headers, **kwargs)
        cases[0] += 1
        statuses[f"{case.method} {operation.path} {response.status_code}"] += 1
        where = f"{mode.value} {case.method} {case.formatted_path} -> {response.status_code}"
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # collected: the test fails at the end
            titles = [line.strip() for line in str(exc).splitlines() if line.startswith("- ")]
            failures.append(f"{where}: {'; '.join(titles) or str(exc)[:300]}")
            return
        if response.status_code >= 500:
            failures.append(f"{where}: a server error: {response.text[:200]}")
        elif 400 <= response.status_code < 500:
            body = response.json()
            if set(body) < {"error", "code", "field"}:
                failures.append(f"{where}: not the error shape: {body}")
            after = rows.counts()
            if after != before:
                failures.append(f"{where}: a refusal wrote rows: {before} -> {after}")

    try:
        run()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # nothing of this operation can be made invalid (no parameters, no body)


def _stateful(
    schema: Any,
    base_url: str,
    session: requests.Session,
    cases: list[int],
    failures: list[str],
    statuses: Counter[str],
) -> None:
    """Sequences along the document's links (create a workspace, then read, add, remove...)."""
    user = {"Authorization": user_token()}

    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base_url, "session": session, "headers": user}

        def validate_response(self, response: Any, case: Any, *args: Any, **kw: Any) -> None:
            cases[0] += 1
            where = f"stateful {case.method} {case.formatted_path} -> {response.status_code}"
            statuses[f"stateful {case.method} {case.operation.path} {response.status_code}"] += 1
            if response.status_code >= 500:
                failures.append(f"{where}: a server error")
            try:
                case.validate_response(response, checks=CHECKS)
            except (Exception, BaseExceptionGroup) as exc:
                titles = [line.strip() for line in str(exc).splitlines() if line.startswith("- ")]
                failures.append(f"{where}: {'; '.join(titles) or str(exc)[:300]}")

    Workflow.run(
        settings=settings(
            max_examples=max(5, EXAMPLES // 2),
            stateful_step_count=8,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            derandomize=os.environ.get("FUZZ_SEED") is None,
        )
    )
