"""The model registry over HTTP with two tenants' keys: one never reads another's models."""

from __future__ import annotations

import hashlib

WEIGHTS = b"\x00weights\x01"


def _save(tenant, name: str = "m") -> dict:
    manifest = [
        {"path": "dir/model.bin", "size": len(WEIGHTS), "sha256": hashlib.sha256(WEIGHTS).hexdigest()}
    ]
    created = tenant.http.post(
        tenant.path("models"), json={"name": name, "framework": "python", "artifacts": manifest}
    )
    assert created.status_code == 201, created.text
    assert created.json()["state"] == "uploading"
    put = tenant.http.put(
        tenant.path(f"models/{name}/versions/1/files/dir%2Fmodel.bin"),
        content=WEIGHTS,
        headers={"content-type": "application/octet-stream"},
    )
    assert put.status_code == 200, put.text
    return put.json()


def test_a_tenants_key_never_reads_or_writes_anothers_models(tenants):
    owner, intruder = tenants(), tenants()
    assert _save(owner)["state"] == "ready"
    got = owner.http.get(owner.path("models/m/versions/1/files/dir%2Fmodel.bin"))
    assert got.status_code == 200 and got.content == WEIGHTS

    attempts = [
        ("GET", "models", None),
        ("GET", "models/m", None),
        ("GET", "models/m/versions/1/files/dir%2Fmodel.bin", None),
        ("PUT", "models/m/versions/1/files/dir%2Fmodel.bin", b"evil"),
        ("DELETE", "models/m/versions/1", None),
        ("POST", "models", b"{}"),
    ]
    refused = 0
    for method, rest, body in attempts:
        response = intruder.http.request(method, intruder.path(rest, project=owner.project), content=body)
        assert response.status_code == 403, (method, rest, response.text)
        assert response.json()["code"] == "permission_denied"
        refused += 1
    # in its own project the intruder sees no model of that name
    assert intruder.http.get(intruder.path("models")).json() == []
    missing = intruder.http.get(intruder.path("models/m"))
    assert missing.status_code == 404 and missing.json()["code"] == "model_not_found"
    print(f"attempts={len(attempts)} refused={refused}")

    # the owner's model is untouched
    again = owner.http.get(owner.path("models/m")).json()
    assert (
        again["state"] == "ready" and again["artifacts"][0]["sha256"] == hashlib.sha256(WEIGHTS).hexdigest()
    )
    assert owner.http.get(owner.path("models/m/versions/1/files/dir%2Fmodel.bin")).content == WEIGHTS


def test_a_refused_artifact_is_not_stored(tenants):
    tenant = tenants()
    manifest = [{"path": "model.bin", "size": len(WEIGHTS), "sha256": hashlib.sha256(WEIGHTS).hexdigest()}]
    created = tenant.http.post(
        tenant.path("models"), json={"name": "m", "framework": "python", "artifacts": manifest}
    )
    assert created.status_code == 201
    bad = tenant.http.put(tenant.path("models/m/versions/1/files/model.bin"), content=b"tampered")
    assert bad.status_code == 422 and bad.json()["code"] == "checksum_mismatch"
    assert "artifact 'model.bin' has 8 bytes" in bad.json()["message"]
    read = tenant.http.get(tenant.path("models/m/versions/1/files/model.bin"))
    assert read.status_code == 404 and "never uploaded" in read.json()["message"]
    unknown = tenant.http.post(
        tenant.path("models"), json={"name": "m2", "framework": "cobol", "artifacts": manifest}
    )
    assert unknown.status_code == 400 and "framework 'cobol'" in unknown.json()["message"]
