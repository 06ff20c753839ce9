"""Granary's one exception tree.

Every error a user can see is a ``GranaryError`` with a stable ``code`` (so a remote
client can re-raise the same class from a response body) and the HTTP status a
service answers with. Each class also inherits the builtin a Python user would catch
anyway, so ``except ValueError`` keeps working::

    GranaryError
    ├── InvalidInput(ValueError)            400 invalid_input
    │   ├── SchemaMismatch                  400 schema_mismatch
    │   ├── FeatureNameClash                400 feature_name_clash
    │   ├── ValidationFailed                400 validation_failed
    │   ├── PayloadTooLarge                 413 payload_too_large
    │   └── LimitExceeded                   422 limit_exceeded (quota, limit, current)
    │       └── TimeLimitExceeded(TimeoutError) 422 time_limit_exceeded
    ├── Unauthenticated(PermissionError)    401 unauthenticated
    ├── PermissionDenied(PermissionError)   403 permission_denied
    │   ├── TenantSuspended                 403 tenant_suspended
    │   └── QuotaExceeded                   403 quota_exceeded (quota, limit, current)
    ├── NotFound(LookupError)               404 not_found
    │   ├── FeatureGroupNotFound            404 feature_group_not_found
    │   ├── FeatureViewNotFound             404 feature_view_not_found
    │   ├── TrainingDatasetNotFound         404 training_dataset_not_found
    │   ├── ModelNotFound                   404 model_not_found
    │   ├── DeploymentNotFound              404 deployment_not_found
    │   └── MissingEntity                   404 missing_entity
    ├── AlreadyExists(ValueError)           409 already_exists
    ├── InUse(ValueError)                   409 in_use
    ├── WrongRegion                         409 (nothing was written; ask for the routing again)
    │   ├── Moved                           409 moved
    │   └── Fenced                          409 fenced
    ├── ChecksumMismatch(ValueError)        422 checksum_mismatch
    ├── TooManyRequests                     429 too_many_requests
    │   └── RateLimitExceeded               429 rate_limit_exceeded (quota, limit, current)
    ├── NotSupported(NotImplementedError)   501 not_supported
    ├── BackendUnavailable(ConnectionError) 503 backend_unavailable
    └── Timeout(TimeoutError)               504 timeout
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


class ValidationFailed(InvalidInput):
    """Rows failed expectations of a group's suite under the STRICT ingestion policy."""

    code = "validation_failed"


class PayloadTooLarge(InvalidInput):
    code = "payload_too_large"
    status = 413


class Unauthenticated(GranaryError, PermissionError):
    """No API key, or one the service does not know (or that was revoked)."""

    code = "unauthenticated"
    status = 401


class PermissionDenied(GranaryError, PermissionError):
    """A valid key asked for another project's objects."""

    code = "permission_denied"
    status = 403


class TenantSuspended(PermissionDenied):
    """The caller's tenant is suspended: every key of it is refused until it is resumed."""

    code = "tenant_suspended"


class _QuotaMixin:
    """Carries which quota was hit, its limit and the use at that moment, into the body."""

    def __init__(
        self,
        message: str,
        *,
        quota: str | None = None,
        limit: float | None = None,
        current: float | None = None,
    ) -> None:
        super().__init__(message)  # type: ignore[call-arg]
        self.quota = quota
        self.limit = limit
        self.current = current

    def to_dict(self) -> dict:
        body = GranaryError.to_dict(self)  # type: ignore[arg-type]
        if self.quota is not None:
            body.update(quota=self.quota, limit=self.limit, current=self.current)
        return body


class QuotaExceeded(_QuotaMixin, PermissionDenied):
    """A count or size quota of the tenant's plan (projects, feature groups, bytes) is used up."""

    code = "quota_exceeded"


class LimitExceeded(_QuotaMixin, InvalidInput):
    """One request would cost more than the plan's cost limits allow (joins in a query,
    bytes of a spec or a spine, seconds of work); ``quota`` names the limit, ``limit``
    its value and ``current`` what this request came to. Retrying the same request
    fails the same way: make it smaller, or raise the limit."""

    code = "limit_exceeded"
    status = 422


class TimeLimitExceeded(LimitExceeded, TimeoutError):
    """The request's work ran past the plan's ``max_request_seconds`` and was stopped."""

    code = "time_limit_exceeded"


class NotFound(GranaryError, LookupError):
    code = "not_found"
    status = 404


class FeatureGroupNotFound(NotFound):
    code = "feature_group_not_found"


class FeatureViewNotFound(NotFound):
    code = "feature_view_not_found"


class TrainingDatasetNotFound(NotFound):
    code = "training_dataset_not_found"


class ModelNotFound(NotFound):
    code = "model_not_found"


class DeploymentNotFound(NotFound):
    code = "deployment_not_found"


class MissingEntity(NotFound):
    code = "missing_entity"


class AlreadyExists(GranaryError, ValueError):
    code = "already_exists"
    status = 409


class InUse(GranaryError, ValueError):
    """Something still depends on the object (a model on its feature view or training
    dataset): the message names it, and nothing was deleted."""

    code = "in_use"
    status = 409


class WrongRegion(GranaryError):
    """A write reached a region that may not take it; nothing was written. The caller's
    routing is out of date: ask the control plane where the project is written now."""

    code = "wrong_region"
    status = 409


class Moved(WrongRegion):
    """The region does not home the project (it is a standby for it, or the project
    moved away): its writes go to the home region."""

    code = "moved"


class Fenced(WrongRegion):
    """The write carries a routing epoch other than the one the home region writes
    under: one of the two has not seen the newest switchover or failover yet."""

    code = "fenced"


class ChecksumMismatch(GranaryError, ValueError):
    """Bytes of a model artifact differ from the SHA-256 recorded when it was saved."""

    code = "checksum_mismatch"
    status = 422


class TooManyRequests(GranaryError):
    """Too many calls in a window (e.g. failed logins); retry later."""

    code = "too_many_requests"
    status = 429


class RateLimitExceeded(_QuotaMixin, TooManyRequests):
    """A rate quota of the tenant's plan (online reads/s, ingestion rows/s) is used up."""

    code = "rate_limit_exceeded"


class NotSupported(GranaryError, NotImplementedError):
    code = "not_supported"
    status = 501


class BackendUnavailable(GranaryError, ConnectionError):
    code = "backend_unavailable"
    status = 503


class Timeout(GranaryError, TimeoutError):
    """The service accepted the request but did not finish it in time (e.g. ``wait=True``)."""

    code = "timeout"
    status = 504


def _all_subclasses(cls: type[GranaryError]) -> list[type[GranaryError]]:
    found = [cls]
    for sub in cls.__subclasses__():
        found.extend(_all_subclasses(sub))
    return found


def error_from_dict(body: dict[str, str]) -> GranaryError:
    """Rebuild the exception a service reported, so remote and embedded raise alike."""
    by_code = {cls.code: cls for cls in _all_subclasses(GranaryError)}
    cls = by_code.get(body.get("code", ""), GranaryError)
    if issubclass(cls, _QuotaMixin):
        return cls(
            body.get("message", "unknown error"),
            quota=body.get("quota"),
            limit=body.get("limit"),
            current=body.get("current"),
        )
    return cls(body.get("message", "unknown error"))
