"""Signatures and key hashes agree with the published vectors and with the SDK itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from inngest._internal import net, server_lib, transforms

from inngest_app.testing.signing import (
    accepted_authorizations,
    canonical_json,
    cloud_headers,
    hashed_signing_key,
    sign,
    step_call,
)

VECTORS = Path("/work/shared/fixtures/inngest/protocol-vectors.json")
KEY = "signkey-test-" + "c3" * 32


def _vectors() -> dict[str, Any]:
    return dict(json.loads(VECTORS.read_text()))


def test_the_request_signature_matches_the_vector() -> None:
    [vector] = [v for v in _vectors()["request_signature"] if v["kind"] == "derived"]
    signed = sign(vector["body_utf8"].encode(), vector["signing_key"], vector["t"])
    assert signed == vector["header"]


def test_the_bearer_hash_matches_the_vectors_and_the_sdk() -> None:
    prefixed, bare = _vectors()["signing_key_bearer_hash"]
    assert hashed_signing_key(prefixed["signing_key"]) == prefixed["bearer"]
    assert hashed_signing_key(bare["signing_key"]).endswith(bare["hashed_hex"])
    sdk_header = f"Bearer {transforms.hash_signing_key(KEY)}"  # what SDK 0.5 really sends
    assert sdk_header in accepted_authorizations(KEY)
    assert f"Bearer {hashed_signing_key(KEY)}" in accepted_authorizations(KEY)


def test_the_sdk_accepts_a_signature_over_the_canonical_body() -> None:
    body = canonical_json({"z": 1, "a": {"é": [1.0, "x"]}})
    headers = {"x-inngest-signature": sign(body, KEY, 1700000000)}
    accepted = net.validate_request_sig(
        body=body,
        headers=headers,
        mode=server_lib.ServerKind.CLOUD,
        signing_key=KEY,
        signing_key_fallback=None,
    )
    assert accepted == KEY


def test_a_step_call_is_canonical_signed_and_accepted_by_the_sdk() -> None:
    event = {"name": "a/b", "data": {"k": 1}, "id": "e1", "ts": 1}
    body = step_call(event, run_id="r1", steps={"h1": {"data": 1}})
    request = json.loads(body)
    assert body == canonical_json(request)
    assert request["ctx"]["stack"] == {"current": 1, "stack": ["h1"]}
    assert request["events"] == [event] and request["version"] == 2
    headers = {k.lower(): v for k, v in cloud_headers(body, KEY, 1700000000).items()}
    assert headers["x-inngest-server-kind"] == "cloud"
    accepted = net.validate_request_sig(
        body=body,
        headers=headers,
        mode=server_lib.ServerKind.CLOUD,
        signing_key=KEY,
        signing_key_fallback=None,
    )
    assert accepted == KEY
