"""``ops/world up``: several regions on one machine, each with its own services and data plane."""

from __future__ import annotations

import httpx


def test_each_region_answers_health_as_itself_on_its_own_services(world):
    answers = {}
    for name, url in world.planes.items():
        response = httpx.get(f"{url}/health", timeout=10)
        assert response.status_code == 200, response.text
        answers[name] = response.json()
    region_ids = {name: body["region_id"] for name, body in answers.items()}
    print(f"region ids: {region_ids}")
    assert region_ids == {name: name for name in world.planes}
    for body in answers.values():
        assert body["status"] == "ok" and set(body["dependencies"]) >= {"postgres", "kafka", "s3", "redis"}
    # side by side, not shared: no two regions have a service address in common
    services = ("GRANARY_PG_URL", "GRANARY_REDIS_URL", "GRANARY_KAFKA_BOOTSTRAP", "GRANARY_S3_ENDPOINT")
    addresses = [{world.env[name][key] for key in services} for name in world.planes]
    assert len(world.planes) == 2 and not addresses[0] & addresses[1]

    control_plane = httpx.get(f"{world.control_plane}/health", timeout=10)
    assert control_plane.status_code == 200 and control_plane.json()["status"] == "ok", control_plane.text
