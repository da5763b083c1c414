"""Issue 9, point 8: only a signed-in Supabase user's token (ours, current keys too) is a user."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from inngest_app.testing.live import serve_asgi
from tests.harness import LiveFactory
from tests.queries.support import JWT_SECRET, config, query_settings

STATS = "/api/inngest/monitoring"


class Jwks:
    """A Supabase project's auth server, as far as its JWKS goes: keys made here, in the test."""

    def __init__(self) -> None:
        self.ec_key = ec.generate_private_key(ec.SECP256R1())
        self.rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.fetches = 0
        self.url = ""

    def public_jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key, alg in (("ec-1", self.ec_key, "ES256"), ("rsa-1", self.rsa_key, "RS256")):
            jwk = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
        return {"keys": keys}

    async def endpoint(self, _: Request) -> JSONResponse:
        self.fetches += 1
        return JSONResponse(self.public_jwks())

    @contextlib.asynccontextmanager
    async def serve(self) -> AsyncIterator[str]:
        app = Starlette(routes=[Route("/auth/v1/.well-known/jwks.json", self.endpoint)])
        async with serve_asgi(app) as url:
            self.url = url
            yield url

    def claims(self, **overrides: Any) -> dict[str, Any]:
        base = {
            "sub": "user-1",
            "exp": int(time.time()) + 600,
            "aud": "authenticated",
            "role": "authenticated",
            "iss": f"{self.url}/auth/v1",
        }
        merged = {**base, **overrides}
        return {k: v for k, v in merged.items() if v is not None}  # None: leave the claim out

    def es256(self, kid: str = "ec-1", key: Any = None, **claims: Any) -> str:
        return jwt.encode(
            self.claims(**claims), key or self.ec_key, algorithm="ES256", headers={"kid": kid}
        )

    def rs256(self, **claims: Any) -> str:
        return jwt.encode(
            self.claims(**claims), self.rsa_key, algorithm="RS256", headers={"kid": "rsa-1"}
        )

    def hs256(self, secret: str = JWT_SECRET, **claims: Any) -> str:
        return jwt.encode(self.claims(**claims), secret, algorithm="HS256")

    def hs256_with_public_key(self) -> str:
        """The algorithm-confusion forgery: HS256 keyed with the (public) RSA key's PEM.
        Built by hand, since PyJWT refuses to sign it."""
        pem = self.rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        part = lambda value: base64.urlsafe_b64encode(  # noqa: E731
            json.dumps(value).encode()
        ).rstrip(b"=")
        signing_input = (
            part({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}) + b"." + part(self.claims())
        )
        mac = hmac.new(pem, signing_input, hashlib.sha256).digest()
        return (signing_input + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")).decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def jwks() -> AsyncIterator[Jwks]:
    server = Jwks()
    async with server.serve():
        yield server


async def test_tokens_for_others_are_refused_and_start_nothing(
    start_live: LiveFactory, jwks: Jwks
) -> None:
    attacks = {
        "another audience": jwks.hs256(aud="other-app"),
        "anon role": jwks.hs256(role="anon"),
        "service role": jwks.hs256(role="service_role"),
        "no role": jwks.hs256(role=None),
        "another issuer": jwks.hs256(iss="https://evil.supabase.co/auth/v1"),
        "no issuer": jwks.hs256(iss=None),
        "unknown kid": jwks.es256(kid="nope"),
        "other EC key, known kid": jwks.es256(key=ec.generate_private_key(ec.SECP256R1())),
        "HS256 keyed with the public key": jwks.hs256_with_public_key(),
        "alg none": jwt.encode(jwks.claims(), None, algorithm="none"),
    }
    async with start_live(**query_settings(), supabase_url=jwks.url) as live:
        for name, token in attacks.items():
            run = await live.api.post("/api/queries/run", json=config(), headers=bearer(token))
            assert run.status_code == 401, (name, run.text)
            stats = await live.api.get(STATS, headers=bearer(token))
            assert stats.status_code == 401, (name, stats.text)
        assert await live.pool.fetchval("select count(*) from queries") == 0
        assert live.executor.events == []


async def test_current_asymmetric_keys_and_the_legacy_secret_work(
    start_live: LiveFactory, jwks: Jwks
) -> None:
    async with start_live(**query_settings(), supabase_url=jwks.url) as live:
        for token in (jwks.es256(), jwks.rs256(), jwks.hs256(), jwks.es256(), jwks.rs256()):
            answer = await live.api.get(STATS, headers=bearer(token))
            assert answer.status_code == 200, answer.text
        assert jwks.fetches == 1  # the key set is cached


async def test_audience_and_roles_are_settable(start_live: LiveFactory, jwks: Jwks) -> None:
    async with start_live(
        **query_settings(),
        supabase_url=jwks.url,
        supabase_jwt_audience="my-app",
        supabase_jwt_roles="authenticated,editor",
    ) as live:
        good = jwks.es256(aud="my-app", role="editor")
        assert (await live.api.get(STATS, headers=bearer(good))).status_code == 200
        default_aud = jwks.es256()
        assert (await live.api.get(STATS, headers=bearer(default_aud))).status_code == 401


async def test_subs_must_be_uuids_when_the_project_says_so(
    start_live: LiveFactory, jwks: Jwks
) -> None:
    """Supabase's subs are UUIDs: with `SUPABASE_JWT_UUID_SUBS=1` nothing else is a user."""
    user = "0b6d7c8e-3f4a-4b5c-9d6e-7f8091a2b3c4"
    async with start_live(
        **query_settings(), supabase_url=jwks.url, supabase_jwt_uuid_subs=True
    ) as live:
        for sub in ("user-1", "", "0b6d7c8e3f4a4b5c9d6e7f8091a2b3c4x", user.upper() + " "):
            run = await live.api.post(
                "/api/queries/run", json=config(), headers=bearer(jwks.es256(sub=sub))
            )
            assert run.status_code == 401, (sub, run.text)
            assert run.json()["field"] == "Authorization"
        assert await live.pool.fetchval("select count(*) from queries") == 0
        stats = await live.api.get(STATS, headers=bearer(jwks.es256(sub=user)))
        assert stats.status_code == 200, stats.text


def _forged(header: Any, claims: Any) -> str:
    """A token with any header and payload JSON (signature garbage): what PyJWT refuses to make."""

    def part(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}.c2ln"


async def test_forged_headers_and_payloads_are_401_json(
    start_live: LiveFactory, jwks: Jwks
) -> None:
    claims = jwks.claims()
    tokens = [
        _forged({"alg": "ES256", "kid": ["ec-1"]}, claims),
        _forged({"alg": "RS256", "kid": {"k": 1}}, claims),
        _forged({"alg": ["HS256"]}, claims),
        _forged(["alg", "HS256"], claims),
        _forged({"alg": "HS256"}, ["not", "an", "object"]),
        _forged({"alg": "ES256", "kid": "ec-1"}, claims),
        jwks.es256(exp=10**30),
        jwks.es256(iat="yesterday"),
        jwks.es256(nbf={"x": 1}),
        "a.b.c",
        "x" * 5000,
    ]
    async with start_live(**query_settings(), supabase_url=jwks.url) as live:
        for forged in tokens:
            response = await live.api.get(STATS, headers=bearer(forged))
            assert response.status_code == 401, (forged[:60], response.text)
            assert response.json()["field"] == "Authorization"
