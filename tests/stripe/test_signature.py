"""Signature verification: Stripe's scheme, several secrets, 300 s tolerance, raw bytes."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import pytest

from inngest_app.stripe.signature import SignatureError, sign, verify_signature
from tests.stripe.support import OLD_SECRET, SECRET, load_event, signed


def test_sign_matches_stripes_documented_scheme() -> None:
    header = sign('{"a":1}', SECRET, timestamp=1700000000)
    expected = hmac.new(SECRET.encode(), b'1700000000.{"a":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_a_delivery_signed_with_the_secret_verifies() -> None:
    body, headers = signed(load_event("invoice.paid.json"))
    verify_signature(body, headers["Stripe-Signature"], [SECRET])


def test_any_secret_of_a_rotation_verifies() -> None:
    body, headers = signed(load_event("invoice.paid.json"), OLD_SECRET)
    verify_signature(body, headers["Stripe-Signature"], [SECRET, OLD_SECRET])
    with pytest.raises(SignatureError, match="No signatures found"):
        verify_signature(body, headers["Stripe-Signature"], [SECRET])


def test_a_header_with_both_rotation_signatures_verifies_with_either() -> None:
    body = b'{"id":"evt_1"}'
    stamp = int(time.time())
    new = sign(body.decode(), SECRET, timestamp=stamp)
    old = sign(body.decode(), OLD_SECRET, timestamp=stamp).split(",")[1]
    verify_signature(body, f"{new},{old}", [OLD_SECRET])


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda body, header: (body, None), "header is missing"),
        (lambda body, header: (body, ""), "header is missing"),
        (lambda body, header: (body, "garbage"), "Unable to extract"),
        (lambda body, header: (body, header.split(",")[0]), "No signatures found with expected"),
        (lambda body, header: (body.replace(b"2000", b"2001"), header), "No signatures found"),
        (lambda body, header: (body + b" ", header), "No signatures found"),
        (lambda body, header: (b"\xff" + body, header), "not UTF-8"),
    ],
    ids=["unsigned", "empty", "malformed", "no-v1", "tampered", "trailing-byte", "not-utf8"],
)
def test_bad_deliveries_are_refused(
    mutate: Callable[[bytes, str], tuple[bytes, str | None]], reason: str
) -> None:
    body, headers = signed(load_event("invoice.paid.json"))
    bad_body, bad_header = mutate(body, headers["Stripe-Signature"])
    with pytest.raises(SignatureError, match=reason):
        verify_signature(bad_body, bad_header, [SECRET])


def test_a_forged_signature_is_refused() -> None:
    body, headers = signed(load_event("invoice.paid.json"), "whsec_attacker_guess")
    with pytest.raises(SignatureError, match="No signatures found matching"):
        verify_signature(body, headers["Stripe-Signature"], [SECRET, OLD_SECRET])


def test_tolerance_is_300_seconds() -> None:
    event = load_event("invoice.paid.json")
    body, headers = signed(event, timestamp=int(time.time()) - 290)
    verify_signature(body, headers["Stripe-Signature"], [SECRET])
    body, headers = signed(event, timestamp=int(time.time()) - 310)
    with pytest.raises(SignatureError, match="tolerance"):
        verify_signature(body, headers["Stripe-Signature"], [OLD_SECRET, SECRET])


def test_no_secret_configured_verifies_nothing() -> None:
    body, headers = signed(load_event("invoice.paid.json"))
    with pytest.raises(SignatureError, match="no webhook secret"):
        verify_signature(body, headers["Stripe-Signature"], [])


def test_errors_never_contain_a_secret() -> None:
    body, headers = signed(load_event("invoice.paid.json"), "whsec_wrong")
    with pytest.raises(SignatureError) as caught:
        verify_signature(body, headers["Stripe-Signature"], [SECRET, OLD_SECRET])
    assert SECRET not in str(caught.value) and OLD_SECRET not in str(caught.value)


def test_rotation_secrets_come_from_one_variable_and_each_is_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from inngest_app.settings import load_settings

    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", f" {SECRET} , {OLD_SECRET},")
    settings = load_settings(inngest_dev=True)
    assert settings.stripe_webhook_secrets == [SECRET, OLD_SECRET]
    assert {SECRET, OLD_SECRET} <= set(settings.secret_values())
    assert SECRET not in repr(settings)
    assert load_settings(inngest_dev=True, stripe_webhook_secret=None).stripe_webhook_secrets == []
