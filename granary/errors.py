"""Granary's one exception tree.

Every error a user can see is a ``GranaryError`` with a stable ``code`` (so a remote
client can re-raise the same class from a response body) and the HTTP status a
service answers with. Each class also inherits the builtin a Python user would catch
anyway, so ``except ValueError`` keeps working::

    GranaryError
    ├── InvalidInput(ValueError)            400 invalid_input
    │   ├── SchemaMismatch                  400 schema_mismatch
    │   └── FeatureNameClash                400 feature_name_clash
    ├── NotFound(LookupError)               404 not_found
    │   ├── FeatureGroupNotFound            404 feature_group_not_found
    │   ├── FeatureViewNotFound             404 feature_view_not_found
    │   ├── TrainingDatasetNotFound         404 training_dataset_not_found
    │   └── MissingEntity                   404 missing_entity
    ├── AlreadyExists(ValueError)           409 already_exists
    ├── NotSupported(NotImplementedError)   501 not_supported
    └── BackendUnavailable(ConnectionError) 503 backend_unavailable
"""

from __future__ import annotations


class GranaryError(Exception):
    """Base of every error Granary raises on purpose."""

    code = "granary_error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class InvalidInput(GranaryError, ValueError):
    code = "invalid_input"
    status = 400


class SchemaMismatch(InvalidInput):
    code = "schema_mismatch"


class FeatureNameClash(InvalidInput):
    code = "feature_name_clash"


class NotFound(GranaryError, LookupError):
    code = "not_found"
    status = 404


class FeatureGroupNotFound(NotFound):
    code = "feature_group_not_found"


class FeatureViewNotFound(NotFound):
    code = "feature_view_not_found"


class TrainingDatasetNotFound(NotFound):
    code = "training_dataset_not_found"


class MissingEntity(NotFound):
    code = "missing_entity"


class AlreadyExists(GranaryError, ValueError):
    code = "already_exists"
    status = 409


class NotSupported(GranaryError, NotImplementedError):
    code = "not_supported"
    status = 501


class BackendUnavailable(GranaryError, ConnectionError):
    code = "backend_unavailable"
    status = 503


def _all_subclasses(cls: type[GranaryError]) -> list[type[GranaryError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


def error_from_dict(body: dict[str, str]) -> GranaryError:
    """Rebuild the exception a service reported, so remote and embedded raise alike."""
    by_code = {cls.code: cls for cls in _all_subclasses(GranaryError)}
    cls = by_code.get(body.get("code", ""), GranaryError)
    return cls(body.get("message", "unknown error"))
