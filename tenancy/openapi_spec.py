"""Both planes' checked-in OpenAPI specs are written and compared through one rendering,
so the two files read alike and a test's diff of either is stable (sorted keys)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def write(current_spec: Callable[[], dict[str, Any]], default_path: Path, argv: list[str]) -> int:
    """``python -m <plane>.api.openapi [PATH]``: write the code's spec (to the checked-in file)."""
    path = Path(argv[0]) if argv else default_path
    path.write_text(render(current_spec()))
    print(f"wrote {path}")
    return 0
