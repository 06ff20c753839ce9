"""Write the REST API's OpenAPI spec: ``python -m data_plane.api.openapi [PATH]``.

The spec is checked in (``data_plane/api/openapi.json``) and a test fails when the
code and the file disagree, so API changes are reviewed as spec changes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from data_plane.api.app import create_app
from data_plane.settings import DataPlaneSettings

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


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else SPEC_PATH
    path.write_text(render(current_spec()))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
