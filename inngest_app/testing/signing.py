"""Inngest's request signatures, from the platform's side."""

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
    """The bearer token the SDK sends to the platform: the key's prefix + sha256 of its bytes."""
    match = _PREFIX.match(signing_key)
    prefix = match.group(0) if match else ""
    key = signing_key[len(prefix) :]
    return prefix + hashlib.sha256(bytes.fromhex(key)).hexdigest()
