"""Write the REST API's OpenAPI spec: ``python -m data_plane.api.openapi [PATH]``.

The spec is checked in (``data_plane/api/openapi.json``) and a test fails when the
code and the file disagree, so API changes are reviewed as spec changes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from data_plane.api.app import create_app
from data_plane.settings import DataPlaneSettings
from tenancy import openapi_spec

SPEC_PATH = Path(__file__).with_name("openapi.json")


def current_spec() -> dict[str, Any]:
    """The spec of the code as it is; no service is contacted."""
    defaults = {
        name: field.default
        for name, field in DataPlaneSettings.model_fields.items()
        if not field.is_required()
    }
    settings = DataPlaneSettings.model_construct(**defaults)
    return create_app(settings).openapi()


def main(argv: list[str]) -> int:
    return openapi_spec.write(current_spec, SPEC_PATH, argv)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
