"""The guarded outbound client: each refusal performed against a real loopback server."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import respx

from inngest_app.app import create_app
from inngest_app.outbound import GuardedClient, OutboundRefused, is_refused_address
from inngest_app.services import NotStartedError
from inngest_app.settings import Settings
from inngest_app.testing.live import in_process
from tests.attacker import INTERNAL_SECRET, attacker_server


def dns(table: dict[str, list[str]], calls: list[str] | None = None):  # type: ignore[no-untyped-def]
    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return table[host]

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.1.2.3",
        "10.0.0.8",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.127.255.254",
        "0.0.0.0",  # noqa: S104 (an address to refuse, not a bind)
        "255.255.255.255",
        "224.0.0.1",
        "239.255.0.1",
        "240.0.0.1",
        "::",
        "::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "fe80::1%eth0",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "not-an-ip",
    ],
)
def test_local_and_private_addresses_are_refused(address: str) -> None:
    assert is_refused_address(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert not is_refused_address(address)


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254", "10.0.0.1"]
)
async def test_literal_private_ip_is_refused_before_anything_is_sent(host: str) -> None:
    calls: list[str] = []
    async with GuardedClient(resolver=dns({}, calls)) as client:
        with pytest.raises(OutboundRefused) as refused:
            await client.request("GET", f"http://{host}/latest/meta-data/")
    assert refused.value.code == "private_address"
    assert calls == []  # refused on the literal, before any connection


async def test_literal_loopback_server_never_sees_the_request() -> None:
    async with attacker_server() as target, GuardedClient() as client:
        with pytest.raises(OutboundRefused):
            await client.request("GET", target.url + "/")
        assert target.seen == []


async def test_name_resolving_to_loopback_is_refused_at_connect() -> None:
    calls: list[str] = []
    async with attacker_server() as target:
        table = {"innocent.example": ["127.0.0.1"]}
        async with GuardedClient(resolver=dns(table, calls)) as client:
            with pytest.raises(OutboundRefused) as refused:
                await client.request("GET", f"http://innocent.example:{target.port}/")
        assert refused.value.code == "private_address"
        assert "innocent.example" in str(refused.value)
        assert calls == ["innocent.example"] and target.seen == []


async def test_every_resolved_address_is_checked() -> None:
    async with attacker_server() as target:
        table = {"mixed.example": ["8.8.8.8", "127.0.0.1"]}
        async with GuardedClient(resolver=dns(table)) as client:
            with pytest.raises(OutboundRefused):
                await client.request("GET", f"http://mixed.example:{target.port}/")
        assert target.seen == []


async def test_connects_to_the_checked_address_with_one_resolution_and_keeps_the_host() -> None:
    # DNS rebinding needs a second lookup between the check and the connect: there is none.
    # The name does not exist in real DNS, so reaching the server proves the socket went to the
    # address the resolver gave (the one that was checked).
    answers = iter([["127.0.0.1"], ["10.9.9.9"]])
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    async with attacker_server() as target:
        async with GuardedClient(allow_private=True, resolver=rebinding) as client:
            response = await client.request("GET", f"http://rebind.example:{target.port}/")
        assert response.status_code == 200 and response.json() == {
            "items": [{"id": "stolen-1", "secret": INTERNAL_SECRET}]
        }
        assert calls == ["rebind.example"]
        assert target.seen[0]["host"] == f"rebind.example:{target.port}"


async def test_a_pool_opened_with_private_allowed_is_not_reused_by_a_call_that_refuses() -> None:
    async with attacker_server() as target:
        table = {"internal.example": ["127.0.0.1"]}
        async with GuardedClient(resolver=dns(table)) as client:
            url = f"http://internal.example:{target.port}/"
            assert (await client.request("GET", url, allow_private=True)).status_code == 200
            with pytest.raises(OutboundRefused):
                await client.request("GET", url)
        assert len(target.seen) == 1


@pytest.mark.parametrize(
    "name",
    [
        "Host",
        "host",
        "Connection",
        "Transfer-Encoding",
        "TE",
        "Upgrade",
        "Keep-Alive",
        "Trailer",
        "Proxy-Authorization",
        "Proxy-Foo",
        "Content-Length",
        "Metadata-Flavor",
        "X-aws-ec2-metadata-token",
        "X-Google-Metadata-Request",
        "X-Forwarded-Host",
        "Bad Name",
    ],
)
async def test_user_headers_cannot_set_host_hop_by_hop_or_metadata(name: str) -> None:
    async with attacker_server() as target, GuardedClient(allow_private=True) as client:
        with pytest.raises(OutboundRefused) as refused:
            await client.request("GET", target.url + "/", headers={name: "Google"})
        assert refused.value.code == "bad_header"
        assert target.seen == []


async def test_header_values_with_line_breaks_are_refused() -> None:
    async with attacker_server() as target, GuardedClient(allow_private=True) as client:
        with pytest.raises(OutboundRefused) as refused:
            await client.request("GET", target.url + "/", headers={"X-A": "1\r\nHost: evil"})
        assert refused.value.code == "bad_header"
        ok = await client.request("GET", target.url + "/", headers={"Accept": "application/json"})
        assert ok.status_code == 200 and target.seen[0]["accept"] == "application/json"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("file:///etc/passwd", "bad_scheme"),
        ("gopher://example.com/", "bad_scheme"),
        ("ftp://example.com/", "bad_scheme"),
        ("http://user:pass@example.com/", "bad_url"),
        ("http:///nohost", "bad_url"),
    ],
)
async def test_bad_urls_are_refused(url: str, code: str) -> None:
    async with GuardedClient(resolver=dns({})) as client:
        with pytest.raises(OutboundRefused) as refused:
            await client.request("GET", url)
    assert refused.value.code == code


async def test_an_endless_body_is_cut_at_max_bytes() -> None:
    async with attacker_server() as target, GuardedClient(allow_private=True) as client:
        with pytest.raises(OutboundRefused) as refused:
            await client.request("GET", target.url + "/endless", max_bytes=200_000)
        assert refused.value.code == "too_large"
        assert len(target.seen) == 1


async def test_a_declared_length_over_the_cap_is_refused_and_under_it_is_read() -> None:
    async with attacker_server() as target, GuardedClient(allow_private=True) as client:
        with pytest.raises(OutboundRefused) as refused:
            await client.request("GET", target.url + "/big", max_bytes=4999)
        assert refused.value.code == "too_large"
        response = await client.request("GET", target.url + "/big", max_bytes=5000)
        assert response.content == b"y" * 5000


async def test_a_trickling_body_hits_the_total_deadline() -> None:
    async with attacker_server() as target:
        async with GuardedClient(allow_private=True, timeout=5.0) as client:
            with pytest.raises(OutboundRefused) as refused:
                await client.request("GET", target.url + "/trickle", deadline_s=0.3)
        assert refused.value.code == "deadline"


async def test_redirects_are_not_followed() -> None:
    async with attacker_server() as target, GuardedClient(allow_private=True) as client:
        response = await client.request("GET", target.url + "/redirect")
    assert response.status_code == 302


async def test_network_errors_stay_transport_errors() -> None:
    async with attacker_server() as target:
        port = target.port
    async with GuardedClient(allow_private=True) as client:  # the server is gone: refused
        with pytest.raises(httpx.ConnectError):
            await client.request("GET", f"http://127.0.0.1:{port}/")


async def test_an_unknown_name_is_a_transport_error() -> None:
    async with GuardedClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.request("GET", "http://no-such-host.invalid/")


async def test_respx_still_intercepts_the_guarded_client() -> None:
    async with GuardedClient(max_bytes=100) as client:
        with respx.mock(assert_all_called=False) as mock:
            route = mock.post("https://api.example.test/items").respond(200, json={"items": [1, 2]})
            mock.get("https://api.example.test/huge").respond(200, content=b"z" * 101)
            response = await client.request(
                "POST", "https://api.example.test/items", json={"q": 1}, params={"a": "b"}
            )
            assert response.json() == {"items": [1, 2]}
            assert route.calls.last.request.url.params["a"] == "b"
            with pytest.raises(OutboundRefused) as refused:
                await client.request("GET", "https://api.example.test/huge")
            assert refused.value.code == "too_large"
            # the literal-IP check runs before respx sees anything
            metadata = mock.get("http://169.254.169.254/latest/").respond(200)
            with pytest.raises(OutboundRefused):
                await client.request("GET", "http://169.254.169.254/latest/")
            assert not metadata.called


def test_from_settings_refuses_private_networks_by_default_in_dev_mode_too() -> None:
    dev = Settings(inngest_dev=True)
    assert GuardedClient.from_settings(dev).allow_private is False
    allowed = Settings(inngest_dev=True, query_allow_private_networks=True)
    client = GuardedClient.from_settings(allowed)
    assert client.allow_private is True and client.max_bytes == allowed.outbound_max_bytes


async def test_the_app_lifespan_opens_and_closes_services_outbound(
    make_settings: Callable[..., Settings],
) -> None:
    app = create_app(make_settings(query_allow_private_networks=True))
    services = app.state.services
    with pytest.raises(NotStartedError):
        _ = services.outbound
    async with in_process(app):
        assert isinstance(services.outbound, GuardedClient)
        assert services.outbound.allow_private is True
    with pytest.raises(NotStartedError):
        _ = services.outbound
