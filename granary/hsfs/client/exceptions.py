"""``hsfs.client.exceptions``: Hopsworks' exception names, bound to Granary's error tree.

``except RestAPIError`` and ``except FeatureStoreException`` catch every error Granary
raises on purpose (each is a :class:`granary_core.errors.GranaryError`), as the
Hopsworks classes catch every error of its client; narrower Granary classes
(``SchemaMismatch``, ``FeatureGroupNotFound``...) remain available in ``granary.errors``.
"""

from granary_core.errors import GranaryError, InvalidInput, NotSupported, ValidationFailed

RestAPIError = GranaryError
FeatureStoreException = GranaryError
DataValidationException = ValidationFailed
VectorDatabaseException = NotSupported
ExternalClientError = InvalidInput

__all__ = [
    "DataValidationException",
    "ExternalClientError",
    "FeatureStoreException",
    "RestAPIError",
    "VectorDatabaseException",
]
