"""Write the control plane's OpenAPI spec: ``python -m control_plane.api.openapi [PATH]``.

The spec is checked in (``control_plane/api/openapi.json``), like the data plane's, and
a test fails when the code and the file disagree: API changes are reviewed as spec
changes, and clients (the SDK, the Terraform provider) are written against the file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from control_plane.api.app import create_app
from control_plane.regions import Regions
from control_plane.settings import ControlPlaneSettings
from tenancy import openapi_spec

SPEC_PATH = Path(__file__).with_name("openapi.json")

#: Placeholders for the settings the spec does not depend on; nothing connects to them.
_UNUSED = {
    "database_url": "postgresql+psycopg://spec@127.0.0.1:9/spec",
    "redis_url": "redis://127.0.0.1:9/0",
    "admin_token": "unused-" + "x" * 24,
    "region_token": "unused-" + "x" * 24,
}


def current_spec() -> dict[str, Any]:
    """The spec of the code as it is; no service is contacted (connections are lazy)."""
    settings = ControlPlaneSettings.model_validate(_UNUSED)
    return create_app(settings, regions=Regions({}), migrate=False).openapi()


def main(argv: list[str]) -> int:
    return openapi_spec.write(current_spec, SPEC_PATH, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
