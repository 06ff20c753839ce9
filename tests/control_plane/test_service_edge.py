"""What both planes share at their edge: error bodies, ``/metrics``, JSON logs, tokens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from control_plane.settings import ControlPlaneSettings
from data_plane.api.app import create_app as create_data_plane
from data_plane.settings import DataPlaneSettings
from tests.control_plane.conftest import ADMIN, _free_port, make_tenant
from tests.control_plane.services import REPO


def _data_plane() -> TestClient:
    """The data plane's app without its services (no lifespan: nothing connects)."""
    defaults = {n: f.default for n, f in DataPlaneSettings.model_fields.items() if not f.is_required()}
    return TestClient(create_data_plane(DataPlaneSettings.model_construct(**defaults)))


def test_both_planes_answer_errors_with_the_same_bodies(client):
    data_plane = _data_plane()
    for path in ("/no/such/path", "/v1/no-such-thing"):
        cp, dp = client.get(path), data_plane.get(path)
        print(
            f"\n{path}: control plane {cp.status_code} {cp.json()}; data plane {dp.status_code} {dp.json()}"
        )
        assert cp.status_code == dp.status_code == 404
        assert cp.json().keys() == dp.json().keys() == {"code", "message"}
        assert cp.json()["code"] == dp.json()["code"] == "not_found"
    r = client.delete("/v1/admin/tenants", headers=ADMIN)  # a path with no DELETE
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed", r.text


def test_the_control_plane_serves_request_metrics(client):
    make_tenant(client, "acme")
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain"), r.text[:200]
    series = (
        'granary_http_request_duration_seconds_count{method="POST",route="/v1/admin/tenants",status="201"}'
    )
    assert series in r.text


def test_both_planes_refuse_a_short_token_by_name():
    with pytest.raises(ValidationError, match="admin_token"):
        ControlPlaneSettings(database_url="x", redis_url="y", admin_token="short", region_token="r" * 24)
    with pytest.raises(ValidationError, match="region_token"):
        DataPlaneSettings.model_validate({"region_token": "short"})
    settings = ControlPlaneSettings(
        database_url="x", redis_url="y", admin_token="a" * 24, region_token="r" * 24
    )
    assert "a" * 24 not in repr(settings)


def test_the_control_plane_logs_json_lines(cp_settings):
    port = _free_port()
    env = {
        **os.environ,
        "GRANARY_CP_DATABASE_URL": cp_settings.database_url,
        "GRANARY_CP_REDIS_URL": cp_settings.redis_url,
        "GRANARY_CP_ADMIN_TOKEN": cp_settings.admin_token.get_secret_value(),
        "GRANARY_CP_REGION_TOKEN": cp_settings.region_token.get_secret_value(),
        "GRANARY_CP_API_PORT": str(port),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "control_plane"], env=env, cwd=REPO, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "python -m control_plane did not answer within 60 s"
            time.sleep(0.1)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=30)
    lines = [line for line in stderr.splitlines() if line.strip()]
    print(f"\n{len(lines)} log lines, first: {lines[0] if lines else None}")
    entries = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"ts", "level", "logger", "msg"} <= e.keys() for e in entries)
    assert any(e.get("service") == "control-plane" for e in entries)
