"""Checks on stored transformation descriptions that need no user code to run.

Transformations execute in the SDK (granary.transformations); the data plane only
stores their JSON descriptions (``{"name", "features", "drop", "source", ...}``) and
checks here what it can know without running them, so a bad view is refused before
it is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from granary_core.errors import InvalidInput


def check_view_inputs(where: str, columns: Sequence[str], transformations: Sequence[dict[str, Any]]) -> None:
    """Every model-dependent transformation must take features the view's query returns."""
    known = set(columns)
    for transformation in transformations:
        for feature in transformation.get("features") or []:
            if feature not in known:
                raise InvalidInput(
                    f"{where}: transformation '{transformation.get('name')}' takes feature '{feature}', "
                    f"which the query does not return (features: {list(columns)})"
                )
