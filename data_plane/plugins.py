"""Adapters by type name: the registries of online and offline stores share this.

A registry maps a type name (``redis``, ``delta``) to ``module:class`` of its adapter,
imported only when chosen (the Redis adapter needs the ``redis`` extra, which an
embedded install may lack). Every adapter has a ``Config``, a pydantic model with
``extra="forbid"``, so a misspelt option in its settings section is refused by name
instead of ignored.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from granary_core.errors import InvalidInput, NotSupported

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


class Registry:
    """The adapters of one seam, by type name.

    Args:
        seam: what the adapters are, for messages ("online store").
        adapters: type name -> ``module:class``.
        extras: type name -> the pip extra its client library comes with.
    """

    def __init__(
        self, seam: str, adapters: Mapping[str, str], extras: Mapping[str, str] | None = None
    ) -> None:
        self.seam = seam
        self._adapters = dict(adapters)
        self._extras = dict(extras or {})

    def names(self) -> list[str]:
        return sorted(self._adapters)

    def adapter(self, kind: str) -> Any:
        """The adapter class registered as ``kind``; InvalidInput naming the known types."""
        target = self._adapters.get(kind)
        if target is None:
            raise InvalidInput(
                f"{self.seam} type {kind!r} is unknown; known types: {', '.join(self.names())}"
            )
        module_name, class_name = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            extra = self._extras.get(kind)
            if extra is None or exc.name != extra:
                raise
            raise NotSupported(
                f"{self.seam} {kind!r} needs the {extra} extra: pip install 'granary[{extra}]'"
            ) from exc
        return getattr(module, class_name)

    def config(self, kind: str, values: Mapping[str, Any]) -> tuple[Any, BaseModel]:
        """The adapter of ``kind`` and its checked config."""
        adapter = self.adapter(kind)
        return adapter, load_config(adapter.Config, values, f"{self.seam} {kind!r}")
