"""The Idempotency-Key mechanism that money-like POSTs opt into (tests/urls_testing.py)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from accounts.api.idempotency import idempotency_keys_purge
from accounts.models import IdempotencyRecord, Team
from tests.helpers import problem

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.urls_testing")]
URL = "/api/v1/_test/idempotent"


def post(client, body, key="k-1"):
    return client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_and_body_replays_the_first_answer(api):
    first = post(api, {"name": "x"})
    assert first.status_code == 201
    again = post(api, {"name": "x"})
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Team.objects.count() == 1


def test_json_formatting_does_not_matter(api):
    post(api, {"name": "x", "n": 1})
    response = api.generic(
        "POST",
        URL,
        b'{ "n": 1,  "name": "x" }',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert response.status_code == 201
    assert Team.objects.count() == 1


def test_same_key_other_body_is_409(api):
    post(api, {"name": "x"})
    body = problem(post(api, {"name": "y"}), 409)
    assert body["type"].endswith("idempotency-key-reused")
    assert Team.objects.count() == 1


def test_without_key_every_request_runs(api):
    api.post(URL, {"name": "x"}, format="json")
    api.post(URL, {"name": "x"}, format="json")
    assert Team.objects.count() == 2


def test_keys_are_per_tenant(api, outsider_api):
    post(api, {"name": "x"})
    assert post(outsider_api, {"name": "x"}).status_code == 201
    assert Team.objects.count() == 2


def test_conflict_answers_are_not_stored(api):
    problem(post(api, {"fail": True}), 409)
    assert not IdempotencyRecord.objects.exists()
    assert post(api, {"fail": True}).status_code == 409


def test_client_errors_are_replayed(api):
    assert post(api, {"invalid": True}).status_code == 400
    assert post(api, {"invalid": True}).status_code == 400
    assert IdempotencyRecord.objects.filter(status_code=400).count() == 1


def test_key_expires_after_24_hours(api):
    post(api, {"name": "x"})
    with time_machine.travel(timezone.now() + timedelta(hours=24, seconds=1)):
        assert post(api, {"name": "x"}).status_code == 201
    assert Team.objects.count() == 2


def test_purge_removes_old_keys(api):
    post(api, {"name": "x"}, key="old")
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        post(api, {"name": "x"}, key="new")
        assert idempotency_keys_purge() == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]


def test_bad_key_is_400(api):
    body = problem(post(api, {"name": "x"}, key="x" * 256), 400)
    assert "Idempotency-Key" in body["errors"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_repeats_execute_once(api):
    results: list[int] = []

    def worker():
        try:
            results.append(post(api, {"name": "x", "sleep": 0.5}).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Team.objects.count() == 1
    assert results.count(201) >= 1
    assert set(results) <= {201, 409}
    # once the first finished, a repeat gets its answer
    assert post(api, {"name": "x", "sleep": 0.5}).status_code == 201
    assert Team.objects.count() == 1
