"""Hopsworks' import names, so a notebook ports by changing one line.

``import hopsworks`` becomes ``from granary import hopsworks``. Importing this module
(and only this one: ``import granary`` never does) also binds the module names a
notebook imports from, ``hsfs``, ``hsfs.*``, ``hopsworks.hsfs`` and
``hopsworks.hsfs.*``, to :mod:`granary.hsfs`, and ``hsml.schema`` and
``hsml.model_schema`` to :mod:`granary.model_schema`, in ``sys.modules`` of this process. It
installs no import hook: a name already imported (a real ``hopsworks`` or ``hsfs``
package loaded first) is left as it is, and a process that never imports this
module sees the installed packages untouched.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import granary
from granary import hsfs, hsml, model_schema
from granary.hsfs import (
    builtin_transformations,
    client,
    feature,
    statistics_config,
    transformation_statistics,
)
from granary.hsfs.client import exceptions
from granary.project import Project
from granary.transformations import udf

__all__ = ["hsfs", "login", "udf"]


def login(
    host: str | None = None,
    port: int | None = None,
    project: str | None = None,
    api_key_value: str | None = None,
    api_key_file: str | Path | None = None,
    home: str | Path | None = None,
    **ignored: Any,
) -> Project:
    """``hopsworks.login`` with its keyword names, opening a Granary project.

    ``api_key_file`` is read for the key; ``port`` is appended to ``host``. Options of
    Hopsworks' client that have no meaning here (``hostname_verification``,
    ``trust_store_path``, ``engine``) are accepted and ignored. Without ``host`` (nor
    ``GRANARY_HOST``) the project is embedded, as :func:`granary.login`.
    """
    if api_key_value is None and api_key_file is not None:
        api_key_value = Path(api_key_file).read_text().strip()
    host = host or os.environ.get("GRANARY_HOST")
    if host and port is not None and "://" in host and host.count(":") == 1:
        host = f"{host}:{port}"
    return granary.login(host=host, api_key=api_key_value, project=project, home=home)


def _bind(names: dict[str, ModuleType]) -> None:
    for name, module in names.items():
        sys.modules.setdefault(name, module)


_MODULES: dict[str, ModuleType] = {
    "builtin_transformations": builtin_transformations,
    "transformation_statistics": transformation_statistics,
    "feature": feature,
    "statistics_config": statistics_config,
    "client": client,
    "client.exceptions": exceptions,
}
_bind({"hopsworks": sys.modules[__name__], "hsfs": hsfs, "hopsworks.hsfs": hsfs})
_bind({"hsml": hsml, "hsml.schema": model_schema, "hsml.model_schema": model_schema})
_bind(
    {f"{prefix}.{name}": module for prefix in ("hsfs", "hopsworks.hsfs") for name, module in _MODULES.items()}
)
