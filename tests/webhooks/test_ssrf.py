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
