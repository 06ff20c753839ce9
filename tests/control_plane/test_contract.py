"""The control plane's API as a contract: the checked-in OpenAPI spec is the code's."""

from __future__ import annotations

from control_plane.api.openapi import SPEC_PATH, current_spec
from tenancy.openapi_spec import render


def test_checked_in_openapi_spec_matches_the_code():
    assert SPEC_PATH.exists(), f"{SPEC_PATH} is missing: write it with `python -m control_plane.api.openapi`"
    assert SPEC_PATH.read_text() == render(current_spec()), (
        "the control plane's API changed: regenerate the spec with "
        "`python -m control_plane.api.openapi` and review it"
    )


def test_the_served_spec_is_the_checked_in_one(client):
    served = client.get("/openapi.json").json()
    assert served["paths"].keys() == current_spec()["paths"].keys()
