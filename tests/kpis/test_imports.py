"""POST /events/import (NDJSON, processed by a task) and `manage.py import_events`."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from importlib.util import find_spec
from unittest import mock

import pytest
import time_machine
from django.core.management import CommandError, call_command

from config.celery import app
from kpis.models import ImportJob, RawEvent
from kpis.tasks import run_import
from tests.helpers import problem

pytestmark = pytest.mark.django_db

IMPORT = "/api/v1/events/import"
WHEN = "2026-11-20T09:15:00+08:00"
DAY = "2026-11-20"
NDJSON = "application/x-ndjson"


def interaction(event_id: str, **fields) -> dict:
    return {
        "event_id": event_id, "type": "interaction", "occurred_at": WHEN, "agent": "a1",
        "answered": True, "talk_seconds": 100, **fields,
    }  # fmt: skip


def ndjson(*lines) -> str:
    return "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)


def start(client, body: str, content_type: str = NDJSON):
    return client.post(IMPORT, body, content_type=content_type)


def job(client, job_id: int) -> dict:
    response = client.get(f"{IMPORT}/{job_id}")
    assert response.status_code == 200, response.content
    return response.json()


def kpis(client, agent: str = "a1") -> dict:
    response = client.get(f"/api/v1/agents/{agent}/kpis", {"period": "day", "date": DAY})
    assert response.status_code == 200, response.content
    return response.json()["kpis"]


MIXED = ndjson(
    interaction("e1"),  # 1 accepted
    "{not json",  # 2 rejected: not JSON
    "",  # 3 blank: skipped
    interaction("e2", wait_seconds=-5),  # 4 rejected: bad field
    {"event_id": "s1", "type": "survey", "occurred_at": WHEN, "agent": "a1", "csat": 4},  # 5
    interaction("e1"),  # 6 duplicate of line 1
    "[1, 2]",  # 7 rejected: not an object
    interaction("e1", talk_seconds=5),  # 8 rejected: same id, other body
    interaction("e3", occurred_at="2026-11-20T09:15:00"),  # 9 rejected: no offset
    interaction("e4", talk_seconds=300),  # 10 accepted
)


def test_import_runs_on_commit_and_reports_by_line(api, agent, commit):
    response = commit(lambda: start(api, MIXED))
    assert response.status_code == 202, response.content
    created = response.json()
    assert created["status"] in {"queued", "running", "finished"}
    assert created["lines"] == 10
    assert response["Location"].endswith(f"{IMPORT}/{created['id']}")
    got = api.get(response["Location"])
    assert got.status_code == 200, got.content
    body = got.json()
    assert body["id"] == created["id"]
    assert body["status"] == "finished"
    assert (body["lines"], body["accepted"], body["duplicates"]) == (10, 3, 1)
    rejected = {r["line"]: r for r in body["rejected"]}
    assert sorted(rejected) == [2, 4, 7, 8, 9]
    assert body["rejected_count"] == 5
    assert (rejected[2]["event_id"], list(rejected[2]["errors"])) == (None, ["body"])
    assert rejected[7]["event_id"] is None
    assert (rejected[4]["event_id"], list(rejected[4]["errors"])) == ("e2", ["wait_seconds"])
    assert (rejected[8]["event_id"], list(rejected[8]["errors"])) == ("e1", ["event_id"])
    assert (rejected[9]["event_id"], list(rejected[9]["errors"])) == ("e3", ["occurred_at"])
    assert all(r["errors"] for r in body["rejected"])
    assert sorted(RawEvent.objects.values_list("event_id", flat=True)) == ["e1", "e4", "s1"]
    values = kpis(api)
    assert values["aht"]["value"] == 200
    assert values["csat"]["value"] == 100


def test_without_commit_the_job_stays_queued(api, agent):
    response = start(api, MIXED)
    assert response.status_code == 202
    body = job(api, response.json()["id"])
    assert body["status"] == "queued"
    assert (body["lines"], body["accepted"], body["rejected"]) == (10, 0, [])
    assert not RawEvent.objects.exists()


def test_line_numbers_run_across_chunks(api, agent, commit):
    lines = [interaction(f"e{n}") for n in range(1, 2501)]
    lines[1499] = interaction("e1500", csat=3)  # line 1500: unknown field
    lines[2000] = "oops"  # line 2001
    body = ndjson(*lines)
    created = commit(lambda: start(api, body)).json()
    got = job(api, created["id"])
    assert got["status"] == "finished"
    assert (got["lines"], got["accepted"], got["duplicates"]) == (2500, 2498, 0)
    assert [(r["line"], r["event_id"]) for r in got["rejected"]] == [(1500, "e1500"), (2001, None)]
    assert kpis(api)["contacts_handled"]["value"] == 2498


def test_null_characters_reject_their_lines_and_the_job_finishes(api, agent, commit):
    # Once a NUL reached the COPY (or the stored rejections), the whole job failed.
    body = ndjson(
        interaction("e\x00"),
        interaction("e2", queue="q\x00"),
        {**interaction("e3"), "x\x00": 1},
        interaction("e4"),
    )
    created = commit(lambda: start(api, body)).json()
    got = job(api, created["id"])
    assert got["status"] == "finished", got
    assert (got["lines"], got["accepted"], got["rejected_count"]) == (4, 1, 3)
    assert [(r["line"], r["event_id"], r["errors"]) for r in got["rejected"]] == [
        (1, "e\ufffd", {"event_id": ["Null characters are not allowed."]}),
        (2, "e2", {"queue": ["Null characters are not allowed."]}),
        (3, "e3", {"x\ufffd": ["Unknown field."]}),
    ]
    assert list(RawEvent.objects.values_list("event_id", flat=True)) == ["e4"]


def test_a_raw_nul_byte_rejects_its_line_not_the_upload(api, agent, commit):
    # A NUL byte (not the JSON escape above) in the body: it was stored as is and PostgreSQL
    # answered the upload with a 500 (found by schemathesis, issue 14).
    body = ndjson(interaction("e1"), "\x89PNG\r\x1a\x00\x00IHDR", interaction("e3"))
    response = commit(lambda: start(api, body))
    assert response.status_code == 202, response.content
    got = job(api, response.json()["id"])
    assert got["status"] == "finished", got
    assert (got["lines"], got["accepted"], got["rejected_count"]) == (3, 2, 1)
    assert got["rejected"] == [
        {"line": 2, "event_id": None,
         "errors": {"body": ["Contains a NUL character, which a JSON line cannot hold."]}},
    ]  # fmt: skip
    assert sorted(RawEvent.objects.values_list("event_id", flat=True)) == ["e1", "e3"]


def test_reimporting_the_same_file_counts_duplicates(api, agent, commit):
    body = ndjson(interaction("e1"), interaction("e2"))
    first = commit(lambda: start(api, body)).json()
    second = commit(lambda: start(api, body)).json()
    assert job(api, first["id"])["accepted"] == 2
    again = job(api, second["id"])
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 2, [])
    assert kpis(api)["contacts_handled"]["value"] == 2


def test_a_last_line_without_newline_and_crlf_lines(api, agent, commit):
    body = json.dumps(interaction("e1")) + "\r\n" + json.dumps(interaction("e2"))
    got = job(api, commit(lambda: start(api, body)).json()["id"])
    assert (got["lines"], got["accepted"], got["rejected"]) == (2, 2, [])


def test_an_empty_import_finishes_with_nothing(api, commit):
    got = job(api, commit(lambda: start(api, "")).json()["id"])
    assert got["status"] == "finished"
    assert (got["lines"], got["accepted"], got["duplicates"], got["rejected"]) == (0, 0, 0, [])


def test_the_import_creates_unknown_agents(api, tenant, commit):
    body = ndjson(interaction("e1", agent="new-agent"))
    assert job(api, commit(lambda: start(api, body)).json()["id"])["accepted"] == 1
    assert api.get("/api/v1/agents/new-agent").json()["display_name"] == "new-agent"


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/xml", "multipart/form-data; boundary=x"]
)
def test_a_wrong_content_type_is_a_415(api, agent, content_type):
    problem(start(api, ndjson(interaction("e1")), content_type), 415)
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize(
    "content_type", ["application/jsonl", "application/x-ndjson; charset=utf-8"]
)
def test_other_ndjson_content_types_are_fine(api, agent, content_type):
    assert start(api, ndjson(interaction("e1")), content_type).status_code == 202


def test_an_import_over_4_mb_is_fine(api, agent, commit):
    lines = [interaction(f"e{n}", queue="q" * 120) for n in range(1, 16_001)]
    body = ndjson(*lines)
    assert len(body) > 4 * 1024 * 1024
    got = job(api, commit(lambda: start(api, body)).json()["id"])
    assert (got["status"], got["lines"], got["accepted"]) == ("finished", 16_000, 16_000)


def run_periodic_jobs_later(minutes: int = 10) -> None:
    """What celery beat does a few minutes on: every periodic job, once."""
    app.loader.import_default_modules()
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=minutes)):
        call_command("run_periodic", "--once")


def test_an_import_task_lost_with_the_broker_is_picked_up_later(api, agent, commit):
    body = ndjson(interaction("e1"), interaction("e2"))
    with mock.patch.object(run_import, "delay", side_effect=ConnectionError("broker down")):
        response = commit(lambda: start(api, body))
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert job(api, job_id)["status"] == "queued"
    run_periodic_jobs_later()
    got = job(api, job_id)
    assert (got["status"], got["accepted"]) == ("finished", 2)
    assert RawEvent.objects.count() == 2


def test_an_outsider_cannot_see_our_job(api, outsider_api, agent):
    job_id = start(api, ndjson(interaction("e1"))).json()["id"]
    problem(outsider_api.get(f"{IMPORT}/{job_id}"), 404)
    problem(api.get(f"{IMPORT}/{job_id + 1000}"), 404)


def test_an_outsiders_import_goes_to_their_tenant(api, outsider_api, agent, outsider, commit):
    body = ndjson(interaction("e1", agent="theirs"))
    got = job(outsider_api, commit(lambda: start(outsider_api, body)).json()["id"])
    assert got["accepted"] == 1
    assert RawEvent.objects.for_tenant(outsider).count() == 1
    problem(api.get("/api/v1/agents/theirs"), 404)


def test_import_scopes(tenant, agent, make_client):
    reader = make_client(tenant, scopes=("read",))
    problem(start(reader, ndjson(interaction("e1"))), 403)
    ingester = make_client(tenant, scopes=("ingest",))
    job_id = start(ingester, ndjson(interaction("e1"))).json()["id"]
    assert reader.get(f"{IMPORT}/{job_id}").status_code == 200
    assert ingester.get(f"{IMPORT}/{job_id}").status_code == 200
    problem(make_client(tenant, scopes=("manage",)).get(f"{IMPORT}/{job_id}"), 403)


def test_import_needs_a_key(client, agent):
    problem(client.post(IMPORT, ndjson(interaction("e1")), content_type=NDJSON), 401)


# --- manage.py import_events ------------------------------------------------------------------
needs_command = pytest.mark.skipif(
    find_spec("kpis.management.commands.import_events") is None,
    reason="kpis/management/commands/import_events.py is not written yet",
)


def run_command(*args) -> dict:
    out = io.StringIO()
    call_command("import_events", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


@needs_command
def test_command_imports_ndjson(tmp_path, tenant, agent, api):
    path = tmp_path / "events.ndjson"
    path.write_text(
        ndjson(
            interaction("e1"),
            interaction("e2", wait_seconds=-1),
            "",
            interaction("e1"),
            interaction("e3", talk_seconds=300),
        )
    )
    totals = run_command(str(path), "--tenant", "acme")
    assert (totals["accepted"], totals["duplicates"]) == (2, 1)
    assert [(r["line"], r["event_id"], list(r["errors"])) for r in totals["rejected"]] == [
        (2, "e2", ["wait_seconds"])
    ]
    assert kpis(api)["aht"]["value"] == 200


@needs_command
def test_command_imports_csv(tmp_path, tenant, agent, api):
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,type,occurred_at,agent,answered,talk_seconds,csat\n"
        f"e1,interaction,{WHEN},a1,true,100,\n"
        f"e2,interaction,{WHEN},a1,maybe,100,\n"
        f"s1,survey,{WHEN},a1,,,5\n"
        f"s2,survey,{WHEN},a1,,,9\n"
    )
    totals = run_command(str(path), "--tenant", "acme")
    assert totals["accepted"] == 2
    assert [(r["line"], r["event_id"], list(r["errors"])) for r in totals["rejected"]] == [
        (3, "e2", ["answered"]),
        (5, "s2", ["csat"]),
    ]
    values = kpis(api)
    assert values["contacts_handled"]["value"] == 1
    assert values["csat"]["value"] == 100


@needs_command
def test_command_and_http_import_agree(tmp_path, tenant, agent, api, commit):
    path = tmp_path / "events.ndjson"
    path.write_text(ndjson(interaction("e1"), interaction("e2")))
    assert run_command(str(path), "--tenant", "acme")["accepted"] == 2
    got = job(api, commit(lambda: start(api, path.read_text())).json()["id"])
    assert (got["accepted"], got["duplicates"]) == (0, 2)


@needs_command
def test_command_says_a_line_is_not_json_like_the_http_import(tmp_path, tenant, agent):
    path = tmp_path / "events.ndjson"
    path.write_text(ndjson(interaction("e1"), "{oops"))
    totals = run_command(str(path), "--tenant", "acme")
    assert totals["accepted"] == 1
    [rejection] = totals["rejected"]
    assert (rejection["line"], rejection["event_id"]) == (2, None)
    messages = [m for ms in rejection["errors"].values() for m in ms]
    assert "type" not in rejection["errors"], rejection
    assert any("JSON" in m for m in messages), rejection


@needs_command
def test_command_errors(tmp_path, tenant):
    path = tmp_path / "events.ndjson"
    path.write_text(ndjson(interaction("e1")))
    with pytest.raises(CommandError, match="tenant"):
        call_command("import_events", str(path), "--tenant", "nope")
    with pytest.raises(CommandError, match="file"):
        call_command("import_events", str(tmp_path / "missing.ndjson"), "--tenant", "acme")
    assert not RawEvent.objects.exists()
