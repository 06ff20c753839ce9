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
from urllib.parse import urlsplit, urlunsplit

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
from granary_core.errors import InvalidInput

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

    ``api_key_file`` is read for the key; ``host`` and ``port`` make the URL as
    :func:`url` says. Options of Hopsworks' client that have no meaning here
    (``hostname_verification``, ``trust_store_path``, ``engine``) are accepted and
    ignored. Without ``host`` (nor ``GRANARY_HOST``) the project is embedded, as
    :func:`granary.login`.
    """
    if api_key_value is None and api_key_file is not None:
        api_key_value = Path(api_key_file).read_text().strip()
    host = host or os.environ.get("GRANARY_HOST")
    return granary.login(
        host=url(host, port) if host else None, api_key=api_key_value, project=project, home=home
    )


def url(host: str, port: int | None = None) -> str:
    """The URL ``hopsworks.login(host=, port=)`` reaches.

    A bare host name is reached over HTTPS on ``port`` (default 443), as Hopsworks'
    client does: ``("c.app.hopsworks.ai", 443)`` is ``https://c.app.hopsworks.ai:443``.
    A host given as a URL keeps its scheme and takes ``port`` unless it names one; a
    URL naming another port than ``port`` is refused, naming both.
    """
    parsed = urlsplit(host if "://" in host else f"https://{host}")
    if not parsed.hostname:
        raise InvalidInput(f"login: host {host!r} names no host")
    if parsed.port is not None and port is not None and parsed.port != port:
        raise InvalidInput(f"login: host {host!r} names port {parsed.port}, and port={port} another")
    chosen = parsed.port or port or (443 if parsed.scheme == "https" else None)
    netloc = parsed.hostname if chosen is None else f"{parsed.hostname}:{chosen}"
    return urlunsplit((parsed.scheme, netloc, parsed.path.rstrip("/"), "", ""))


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
