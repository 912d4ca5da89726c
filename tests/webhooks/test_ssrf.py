"""The SSRF guard: internal destinations are refused at create, at update and at send time.
Nothing here sends traffic anywhere but 127.0.0.1: the guard refuses before connecting."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from app.webhooks.ssrf import DestinationRefused, public_addresses, refusal
from app.webhooks.worker import build_request
from tests.webhooks.conftest import eventually, running_worker

INTERNAL_URLS = [
    "http://127.0.0.1/hook",
    "http://10.0.0.1/hook",
    "http://192.168.1.20:8080/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://100.64.0.1/hook",
    "http://localhost:8000/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fd00:ec2::254]/hook",
    "http://0.0.0.0/hook",
    "http://2130706433/hook",  # 127.0.0.1 as one number
]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("fd12::1", "private"),
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.64.0.1", "CGNAT"),
        ("224.0.0.1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "metadata"),
    ],
)
def test_internal_addresses_are_refused(address, reason):
    assert reason in (refusal(ipaddress.ip_address(address)) or "")


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111", "8.8.8.8"])
def test_public_addresses_pass(address):
    assert refusal(ipaddress.ip_address(address)) is None


async def test_a_name_resolving_to_loopback_is_refused():
    with pytest.raises(DestinationRefused, match=r"localhost \(.*\) is a loopback address"):
        await public_addresses("localhost", 80)


async def test_internal_urls_are_refused_at_create(client):
    for url in INTERNAL_URLS:
        response = await client.post("/v1/webhooks", json={"url": url})
        assert response.status_code == 422, (url, response.text)
        [error] = response.json()["errors"]
        assert error["loc"] == ["body", "url"]
        assert error["message"].startswith("destination refused:")
        assert "SCORECARD_WEBHOOK_ALLOW_PRIVATE" in error["message"]
    assert (await client.get("/v1/webhooks")).json()["items"] == []


async def test_internal_urls_are_refused_at_update(client):
    # A public literal: checked without DNS, and nothing is sent without a worker.
    created = await client.post("/v1/webhooks", json={"url": "https://93.184.216.34/hook"})
    assert created.status_code == 201
    moved = await client.patch(
        f"/v1/webhooks/{created.json()['id']}", json={"url": "http://10.1.2.3/hook"}
    )
    assert moved.status_code == 422
    assert "private address" in moved.json()["errors"][0]["message"]


async def test_guarded_requests_go_to_the_checked_address_with_the_original_host():
    async with httpx.AsyncClient() as http:
        request = await build_request(
            http, "https://93.184.216.34:8443/h?x=1", {}, "{}", guarded=True
        )
        assert request.url.host == "93.184.216.34"
        assert request.headers["host"] == "93.184.216.34:8443"
        assert request.extensions["sni_hostname"] == "93.184.216.34"
        with pytest.raises(DestinationRefused):
            await build_request(http, "http://localhost/h", {}, "{}", guarded=True)


async def test_internal_destination_is_refused_at_send_time(
    client, app, settings, delivery_settings, receiver, subscribe, emit
):
    """A URL that passed at create (the guard was off then, or DNS changed since) is still
    refused when the guard is on at send time: the attempt fails and is retried."""
    webhook = await subscribe()
    guarded = delivery_settings.model_copy(update={"scorecard_webhook_allow_private": False})
    async with running_worker(app.state.engine, guarded):
        await emit()

        async def attempted() -> bool:
            page = (await client.get(f"/v1/webhooks/{webhook['id']}/deliveries")).json()
            return (
                bool(page["items"])
                and page["items"][0]["attempts"] >= 1
                and page["items"][0]["status"] != "delivering"
            )

        await eventually(attempted)
    [delivery] = (await client.get(f"/v1/webhooks/{webhook['id']}/deliveries")).json()["items"]
    assert delivery["last_error"].startswith("destination refused: 127.0.0.1 is a loopback")
    assert delivery["last_status_code"] is None
    assert delivery["status"] in ("pending", "failed")  # retried on the schedule
    assert receiver.requests == []


# IPv6 forms that carry an IPv4 address, each around an internal one. The prefixes themselves
# are public, so only judging the embedded address refuses them.
EMBEDDED_INTERNAL = [
    pytest.param("2002:7f00:1::", "6to4 address embedding 127.0.0.1", id="6to4-loopback"),
    pytest.param("2002:a00:1::", "6to4 address embedding 10.0.0.1", id="6to4-private"),
    pytest.param("64:ff9b::7f00:1", "NAT64 address embedding 127.0.0.1", id="nat64-loopback"),
    pytest.param(
        "64:ff9b::a9fe:a9fe", "NAT64 address embedding 169.254.169.254", id="nat64-metadata"
    ),
    # Teredo: server IPv4 in bits 32-63, client IPv4 XOR 0xffffffff in the last 32 bits.
    pytest.param(
        "2001:0:7f00:1:0:0:f7f7:f7f7",
        "Teredo address embedding server 127.0.0.1",
        id="teredo-server",
    ),
    pytest.param(
        "2001:0:808:808:0:0:80ff:fffe",  # client 127.0.0.1
        "Teredo address embedding client 127.0.0.1",
        id="teredo-client",
    ),
    pytest.param("::ffff:7f00:1", "IPv4-mapped address embedding 127.0.0.1", id="mapped"),
    pytest.param("::7f00:1", "IPv4-compatible address embedding 127.0.0.1", id="compatible"),
    pytest.param("::a00:1", "IPv4-compatible address embedding 10.0.0.1", id="compatible-10"),
]

# The same forms around public addresses (8.8.8.8) are judged public.
EMBEDDED_PUBLIC = [
    pytest.param("2002:808:808::", id="6to4"),
    pytest.param("64:ff9b::808:808", id="nat64"),
    pytest.param("2001:0:808:808:0:0:f7f7:f7f7", id="teredo"),
    pytest.param("::ffff:808:808", id="mapped"),
]


@pytest.mark.parametrize(("address", "reason"), EMBEDDED_INTERNAL)
def test_embedded_internal_ipv4_is_refused(address, reason):
    assert reason in (refusal(ipaddress.ip_address(address)) or "")


@pytest.mark.parametrize("address", EMBEDDED_PUBLIC)
def test_embedded_public_ipv4_passes(address):
    assert refusal(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(("address", "reason"), EMBEDDED_INTERNAL)
async def test_embedded_internal_ipv4_is_refused_at_create_and_update(client, address, reason):
    created = await client.post("/v1/webhooks", json={"url": f"http://[{address}]:8080/hook"})
    assert created.status_code == 422, created.text
    assert created.headers["content-type"] == "application/problem+json"
    [error] = created.json()["errors"]
    assert error["loc"] == ["body", "url"]
    assert error["message"].startswith("destination refused:")
    assert reason in error["message"]

    public = await client.post("/v1/webhooks", json={"url": "https://93.184.216.34/hook"})
    assert public.status_code == 201
    moved = await client.patch(
        f"/v1/webhooks/{public.json()['id']}", json={"url": f"https://[{address}]/hook"}
    )
    assert moved.status_code == 422, moved.text
    [error] = moved.json()["errors"]
    assert error["loc"] == ["body", "url"]
    assert reason in error["message"]
    assert (await client.get("/v1/webhooks")).json()["items"][0]["url"] == (
        "https://93.184.216.34/hook"
    )


@pytest.mark.parametrize(("address", "reason"), EMBEDDED_INTERNAL)
async def test_embedded_internal_ipv4_is_refused_at_send_time(address, reason):
    async with httpx.AsyncClient() as http:
        with pytest.raises(DestinationRefused, match=reason):
            await build_request(http, f"http://[{address}]/h", {}, "{}", guarded=True)


async def test_embedded_public_ipv4_is_accepted(client):
    # A literal address: checked without DNS; nothing is sent without a worker.
    created = await client.post("/v1/webhooks", json={"url": "http://[2002:808:808::]/hook"})
    assert created.status_code == 201, created.text


@pytest.mark.parametrize("port", [0, 65536, 99999])
async def test_ports_outside_1_to_65535_are_refused(client, port):
    created = await client.post("/v1/webhooks", json={"url": f"https://93.184.216.34:{port}/h"})
    assert created.status_code == 422, created.text
    [error] = created.json()["errors"]
    assert error["loc"] == ["body", "url"]
    assert "port must be 1-65535" in error["message"]

    public = await client.post("/v1/webhooks", json={"url": "https://93.184.216.34:65535/h"})
    assert public.status_code == 201, public.text
    moved = await client.patch(
        f"/v1/webhooks/{public.json()['id']}", json={"url": f"http://93.184.216.34:{port}/h"}
    )
    assert moved.status_code == 422, moved.text
    assert moved.json()["errors"][0]["loc"] == ["body", "url"]


@pytest.mark.parametrize("guarded", [True, False])
async def test_a_stored_url_with_a_bad_port_is_refused_at_send_time(guarded):
    async with httpx.AsyncClient() as http:
        with pytest.raises(DestinationRefused, match="port 99999 is outside 1-65535"):
            await build_request(http, "http://127.0.0.1:99999/h", {}, "{}", guarded=guarded)
