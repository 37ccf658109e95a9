"""Webhooks in the embedded default (SQLite, in-process tasks, no Redis): a real server sends
a signed delivery right after the request that wrote the activity commits, from a sending
thread, so the request does not wait for the receiver."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from tests.embedded import embedded_server
from tests.webhooks.receiver import receiving
from tests.webhooks.support import readme_verify

pytestmark = pytest.mark.slow


def test_an_embedded_server_delivers_a_signed_webhook(tmp_path):
    with embedded_server(tmp_path) as server, receiving() as receiver:
        auth = {"Authorization": f"Bearer {server.api_key}"}
        api = f"{server.base_url}/api/v1"
        created = requests.post(
            f"{api}/webhooks", json={"url": receiver.url, "events": ["*"]}, headers=auth, timeout=5
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        requests.put(f"{api}/agents/a1", json={"display_name": "Ann"}, headers=auth, timeout=5)
        granted = requests.post(
            f"{api}/agents/a1/wallet/grants",
            json={"amount": 7, "reason": "Kudos"},
            headers=auth,
            timeout=10,
        )
        assert granted.status_code == 201
        assert receiver.arrived.wait(10)
        [got] = receiver.received
        assert readme_verify()(hook["secret"], got.headers, got.body)
        assert json.loads(got.body)["data"]["amount"] == 7
        # The sending thread records the success just after the receiver answered.
        deadline = time.monotonic() + 10
        while True:
            deliveries = requests.get(
                f"{api}/webhooks/{hook['id']}/deliveries", headers=auth, timeout=5
            ).json()["results"]
            if deliveries[0]["status"] != "sending" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert [d["status"] for d in deliveries] == ["succeeded"]


def test_an_embedded_server_answers_before_a_slow_receiver_does(tmp_path):
    """A receiver that takes 3 s: the API call that wrote the activity returns at once (the
    delivery is sent by the server's sending threads), and the delivery still arrives."""
    hold = threading.Event()
    with embedded_server(tmp_path) as server, receiving(hold=hold, hold_seconds=3) as receiver:
        auth = {"Authorization": f"Bearer {server.api_key}"}
        api = f"{server.base_url}/api/v1"
        hook = requests.post(
            f"{api}/webhooks",
            json={"url": receiver.url, "events": ["wallet.granted"]},
            headers=auth,
            timeout=5,
        ).json()
        requests.put(f"{api}/agents/a1", json={"display_name": "Ann"}, headers=auth, timeout=5)
        started = time.monotonic()
        granted = requests.post(
            f"{api}/agents/a1/wallet/grants",
            json={"amount": 7, "reason": "Kudos"},
            headers=auth,
            timeout=10,
        )
        took = time.monotonic() - started
        assert granted.status_code == 201
        assert took < 1.5, f"the API call waited {took:.1f} s on the receiver"
        assert receiver.arrived.wait(10)
        deadline = time.monotonic() + 15
        while True:
            deliveries = requests.get(
                f"{api}/webhooks/{hook['id']}/deliveries", headers=auth, timeout=5
            ).json()["results"]
            if [d["status"] for d in deliveries] == ["succeeded"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert [d["status"] for d in deliveries] == ["succeeded"]
        [got] = receiver.received
        assert readme_verify()(hook["secret"], got.headers, got.body)
