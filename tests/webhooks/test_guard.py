"""The SSRF guard with the deployment's allowance off: refused when the endpoint is saved,
and again at delivery after resolving the name (DNS answers come from a fake resolver: the
one third party these tests stand in for)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from gamify.webhooks.guard import forbidden_reason
from gamify.webhooks.models import Delivery
from tests.webhooks.support import subscribe

pytestmark = pytest.mark.django_db

real_getaddrinfo = socket.getaddrinfo


@pytest.fixture
def guarded(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = False
    settings.WEBHOOKS_ALLOW_HTTP = True  # so that the address, not the scheme, is refused


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Names this test's resolver answers, each with one address; other names resolve as ever."""
    answers: dict[str, str] = {}

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            family = socket.AF_INET6 if ":" in answers[host] else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1/hook", "loopback"),
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/hook", "loopback"),
        ("https://[::ffff:127.0.0.1]/hook", "loopback"),
        ("https://10.0.0.1/hook", "private"),
        ("https://192.168.1.20/hook", "private"),
        ("https://0.0.0.0/hook", "private or reserved"),
        ("http://localhost:9000/hook", "loopback"),
    ],
)
def test_private_addresses_are_refused_at_creation_naming_url(guarded, api, url, why):
    response = api.post("/api/v1/webhooks", {"url": url, "events": ["*"]}, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["url"]
    assert why in response.json()["errors"]["url"][0]


def test_a_name_resolving_to_a_private_address_is_refused_at_creation(guarded, api, dns):
    dns["hooks.internal.example"] = "10.0.0.1"
    response = api.post(
        "/api/v1/webhooks",
        {"url": "https://hooks.internal.example/x", "events": ["*"]},
        format="json",
    )
    assert response.status_code == 400
    assert "10.0.0.1" in response.json()["errors"]["url"][0]


def test_a_name_that_resolves_to_loopback_later_is_refused_at_delivery(
    guarded, api, dns, receiver, commit, settings
):
    name = "rebind.example"
    dns[name] = "93.184.216.34"  # public when the endpoint is saved
    hook = subscribe(api, f"http://{name}:{receiver.port}/hooks")
    dns[name] = "127.0.0.1"  # … and the receiver on loopback when the delivery goes
    commit(lambda: api.post(f"/api/v1/webhooks/{hook['id']}/test"))
    assert receiver.received == []
    delivery = Delivery.objects.get(endpoint_id=hook["id"])
    attempt = delivery.attempt_set.get()
    assert attempt.status_code is None
    assert "refused" in attempt.error
    assert "127.0.0.1" in attempt.error
    assert delivery.status == "pending"  # a failure like any other: retried, then disabled

    # The control: with the allowance on, the same delivery reaches the receiver, over a
    # connection to the address resolved (not the name again), with the Host header kept.
    settings.WEBHOOKS_ALLOW_PRIVATE_NETWORKS = True
    commit(lambda: api.post(f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery.pk}/redeliver"))
    [got] = receiver.received
    assert got.headers["Host"] == f"{name}:{receiver.port}"


def test_a_name_that_does_not_resolve_is_accepted_and_checked_at_delivery(guarded, api, dns):
    dns.clear()
    response = api.post(
        "/api/v1/webhooks",
        {"url": "https://does-not-resolve.invalid/x", "events": ["*"]},
        format="json",
    )
    assert response.status_code == 201


def test_plain_http_is_refused_unless_allowed(api, settings):
    settings.WEBHOOKS_ALLOW_HTTP = False
    response = api.post(
        "/api/v1/webhooks", {"url": "http://93.184.216.34/x", "events": ["*"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"]["url"] == ["Must be an https:// URL."]


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", False),
        ("2606:4700:4700::1111", False),
        ("127.0.0.2", True),
        ("::ffff:10.1.2.3", True),
        ("100.64.0.1", True),  # carrier-grade NAT
        ("fd00:ec2::254", True),  # AWS' IPv6 metadata service (unique local)
        ("fe80::1", True),
        ("224.0.0.1", True),
    ],
)
def test_which_addresses_are_refused(address, refused):
    assert (forbidden_reason(ipaddress.ip_address(address)) is not None) is refused
