"""Webhook signature verification with the official `stripe` package, on the raw body.

During a secret rotation Stripe signs each delivery with every active secret, and the endpoint is
configured with several (`STRIPE_WEBHOOK_SECRET=whsec_new,whsec_old`): a delivery is authentic when
it verifies against any of them. The error messages come from `stripe` and never contain a secret.
"""

from __future__ import annotations

from collections.abc import Sequence

import stripe

DEFAULT_TOLERANCE_S = 300
MAX_HEADER_CHARS = 4096  # a timestamp and a signature per active secret


class SignatureError(Exception):
    """The delivery is not authentic, or too old to be trusted."""


def verify_signature(
    body: bytes,
    header: str | None,
    secrets: Sequence[str],
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Raise `SignatureError` unless `header` signs `body` with one of `secrets`, recently."""
    if not secrets:
        raise SignatureError("no webhook secret is configured")
    if not header:
        raise SignatureError("the Stripe-Signature header is missing")
    if len(header) > MAX_HEADER_CHARS or not header.isascii():
        # hmac.compare_digest raises on non-ASCII text: Stripe's header is short ASCII
        raise SignatureError("the Stripe-Signature header is malformed")
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SignatureError("the body is not UTF-8") from None
    reasons: list[str] = []
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(payload, header, secret, tolerance_s)
        except stripe.SignatureVerificationError as exc:
            reasons.append(str(exc.user_message or exc))
            continue
        return
    # A secret that matched but was too old says more than the ones that did not match.
    raise SignatureError(next((r for r in reasons if "tolerance" in r), reasons[-1]))


def sign(payload: str, secret: str, *, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header for `payload`, exactly as Stripe computes it (tests, benches)."""
    header: str = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=timestamp
    )
    return header
