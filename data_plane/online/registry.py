"""Online stores by type name: adding a store is one adapter module and one line here.

A setting names the type (``GRANARY_ONLINE_STORE=redis``, or a URL whose scheme is the
type, ``redis://host:port/db``) and gives its config section
(``GRANARY_ONLINE_STORE_CONFIG='{"url": "redis://...", "socket_timeout": 2}'``). The
adapter's ``Config`` (a pydantic model with ``extra="forbid"``) checks that section, so
a misspelt option is refused by name instead of ignored.

Adapters are imported only when chosen: the Redis one needs the ``redis`` extra, which
an embedded install may lack.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from data_plane.online.base import OnlineStore
from granary_core.errors import InvalidInput, NotSupported

#: type name -> ``module:class`` of its adapter (a class with ``Config`` and ``open``).
ONLINE_STORES: dict[str, str] = {
    "redis": "data_plane.online.redis:RedisOnlineStore",
    "sqlite": "data_plane.online.sqlite:SQLiteOnlineStore",
}
#: pip extra an adapter's client library comes with, for the message when it is missing.
_EXTRAS = {"redis": "redis"}

C = TypeVar("C", bound=BaseModel)


def load_config(config_class: type[C], values: Mapping[str, Any], where: str) -> C:
    """``config_class`` from ``values``, or InvalidInput naming ``where`` and each bad field."""
    try:
        return config_class.model_validate(dict(values))
    except ValidationError as exc:
        problems = "; ".join(_problem(e["loc"], e["type"], e["msg"]) for e in exc.errors())
        raise InvalidInput(f"{where}: {problems}") from exc


def _problem(location: tuple[Any, ...], kind: str, message: str) -> str:
    field = ".".join(map(str, location))
    if kind == "extra_forbidden":
        return f"unknown option {field!r}"
    return f"{field}: {message}" if field else message.removeprefix("Value error, ")


def split_spec(spec: str, config: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """The type name and config section of ``spec``: a type name, or a URL whose scheme
    is the type (``redis://...`` becomes ``("redis", {"url": "redis://..."})``)."""
    values = dict(config or {})
    if "://" in spec:
        kind = spec.split("://", 1)[0]
        if kind == "sqlite":  # sqlite:///path, as SQLAlchemy writes it
            values.setdefault("path", spec.removeprefix("sqlite:///"))
        else:
            values.setdefault("url", spec)
        return kind, values
    return spec, values


def adapter(kind: str) -> Any:
    """The adapter class registered as ``kind``; InvalidInput naming the known types."""
    target = ONLINE_STORES.get(kind)
    if target is None:
        known = ", ".join(sorted(ONLINE_STORES))
        raise InvalidInput(f"online store type {kind!r} is unknown; known types: {known}")
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        extra = _EXTRAS.get(kind)
        if extra is None or exc.name != extra:
            raise
        raise NotSupported(
            f"online store {kind!r} needs the {extra} extra: pip install 'granary[{extra}]'"
        ) from exc
    return getattr(module, class_name)


def open_online_store(spec: str, config: Mapping[str, Any] | None, project: str) -> OnlineStore:
    """The store that ``spec`` (type name or URL) and ``config`` describe, for ``project``.

    Call it once per server and derive the other projects' stores with ``for_project``:
    they share its connections.
    """
    kind, values = split_spec(spec, config)
    store = adapter(kind)
    settings = load_config(store.Config, values, f"online store {kind!r}")
    return store.open(settings, project)  # type: ignore[no-any-return]
