"""Smoke test of the embedded default: SQLite, in-process tasks, no Redis, a real server."""

from __future__ import annotations

import pytest
import requests

from tests.embedded import embedded_server

pytestmark = pytest.mark.slow


def test_embedded_default_boots_migrates_and_serves(tmp_path):
    with embedded_server(tmp_path) as server:
        ready = requests.get(f"{server.base_url}/readyz", timeout=5)
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "redis": "not configured"}
        auth = {"Authorization": f"Bearer {server.api_key}"}
        created = requests.put(
            f"{server.base_url}/api/v1/agents/a1",
            json={"display_name": "Ann"},
            headers=auth,
            timeout=5,
        )
        assert created.status_code == 201
        listed = requests.get(f"{server.base_url}/api/v1/agents", headers=auth, timeout=5)
        assert listed.status_code == 200
        assert [a["external_id"] for a in listed.json()["results"]] == ["a1"]
        docs = requests.get(f"{server.base_url}/api/docs/", timeout=5)
        assert docs.status_code == 200
        assert "swagger-ui" in docs.text
        asset = requests.get(
            f"{server.base_url}/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
            timeout=5,
        )
        assert asset.status_code == 200  # served locally: the docs work offline
