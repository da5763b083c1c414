"""Inngest's request signatures and key hashes, from the platform's side."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from inngest._internal import transforms

_PREFIX = re.compile(r"^signkey-\w+-")


def canonical_json(value: Any) -> bytes:
    """JSON in the canonical form (RFC 8785) the SDK verifies signatures over."""
    raw = json.dumps(value).encode()
    canonical = transforms.canonicalize(raw)
    if isinstance(canonical, Exception):
        raise canonical
    return canonical


def sign(body: bytes, signing_key: str, at: int) -> str:
    """`X-Inngest-Signature` for `body` (already canonical) signed at unix time `at`."""
    secret = _PREFIX.sub("", signing_key).encode()
    mac = hmac.new(secret, body + str(at).encode(), hashlib.sha256).hexdigest()
    return f"t={at}&s={mac}"


def hashed_signing_key(signing_key: str) -> str:
    """The spec's bearer token: the key's `signkey-<env>-` prefix + sha256 of the key's bytes."""
    match = _PREFIX.match(signing_key)
    prefix = match.group(0) if match else ""
    key = signing_key[len(prefix) :]
    return prefix + hashlib.sha256(bytes.fromhex(key)).hexdigest()


def accepted_authorizations(signing_key: str) -> frozenset[str]:
    """`Authorization` values that prove the key: SDK 0.5 sends the bare hash, the spec the
    prefixed one; both are accepted."""
    hashed = hashed_signing_key(signing_key)
    bare = _PREFIX.sub("", hashed)
    return frozenset({f"Bearer {hashed}", f"Bearer {bare}"})


def step_call(
    event: dict[str, Any],
    *,
    run_id: str,
    steps: dict[str, Any] | None = None,
    attempt: int = 0,
    max_attempts: int = 4,
    stack: list[str] | None = None,
    events: list[dict[str, Any]] | None = None,
    disable_immediate_execution: bool = False,
) -> bytes:
    """The canonical body of one call Inngest makes to run a function's next step (the stack
    defaults to the memoized step ids, in order)."""
    stack = list(steps or {}) if stack is None else list(stack)
    return canonical_json(
        {
            "ctx": {
                "attempt": attempt,
                "disable_immediate_execution": disable_immediate_execution,
                "max_attempts": max_attempts,
                "run_id": run_id,
                "stack": {"current": len(stack), "stack": stack},
                "use_api": False,
            },
            "event": event,
            "events": [event] if events is None else events,
            "steps": steps or {},
            "use_api": False,
            "version": 2,
        }
    )


def cloud_headers(body: bytes, signing_key: str, at: int) -> dict[str, str]:
    """Headers of a signed call from Inngest Cloud."""
    return {"X-Inngest-Signature": sign(body, signing_key, at), "X-Inngest-Server-Kind": "cloud"}
