"""The feature store of a project: where feature groups and feature views are found."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from granary.feature_group import FeatureGroup
from granary.feature_view import FeatureView
from granary.group_options import expectation_suite_dict, feature_descriptions, statistics_config_dict
from granary.query import Query
from granary.transformations import describe_model_dependent, describe_on_demand
from granary_core.errors import FeatureGroupNotFound, FeatureViewNotFound, InvalidInput, NotFound
from granary_core.storage_types import check_ttl

if TYPE_CHECKING:
    from granary.backend import Backend
    from granary.transformations import TransformationFunction


def _ttl_seconds(ttl: Any) -> float | None:
    """``ttl`` as seconds: a number of seconds or a ``datetime.timedelta``."""
    if ttl is None:
        return None
    seconds = ttl.total_seconds() if hasattr(ttl, "total_seconds") else ttl
    check_ttl("ttl", seconds)
    return float(seconds)


def _names(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{what} must be column names, got {value!r}")
    return list(value)


class FeatureStore:
    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    @property
    def name(self) -> str:
        return f"{self._backend.project_name}_featurestore"

    def __repr__(self) -> str:
        return f"FeatureStore({self.name!r})"

    # feature groups -----------------------------------------------------------------
    def create_feature_group(
        self,
        name: str,
        version: int | None = None,
        primary_key: list[str] | str | None = None,
        event_time: str | None = None,
        online_enabled: bool = False,
        description: str = "",
        partition_key: list[str] | None = None,
        ttl: Any = None,
        transformation_functions: list[Any] | None = None,
        features: list[Any] | None = None,
        statistics_config: Any = None,
        expectation_suite: Any = None,
        time_travel_format: str | None = None,
        stream: bool | None = None,
    ) -> FeatureGroup:
        """Create a group; its schema is fixed by the first insert.

        ``ttl`` (seconds or timedelta): rows older than that relative to the reading
        moment are not served online nor joined in point-in-time queries.
        ``features`` (``Feature(name, type, description=)``) gives descriptions; the
        types are still those of the first insert. ``statistics_config`` (bool, dict or
        StatisticsConfig) and ``expectation_suite`` (Great Expectations' JSON or suite
        object) are stored with the group. Feature names are lower-cased.
        ``time_travel_format`` and ``stream`` are accepted for Hopsworks notebooks and
        mean nothing here: every group keeps its commits and takes streamed inserts.
        """
        info = self._backend.create_feature_group(
            name=name,
            version=version,
            primary_key=_names(primary_key, "primary_key"),
            event_time=event_time,
            online_enabled=online_enabled,
            description=description,
            partition_key=_names(partition_key, "partition_key"),
            ttl_seconds=_ttl_seconds(ttl),
            transformations=describe_on_demand(
                f"feature group '{name}'",
                _names(primary_key, "primary_key"),
                event_time,
                transformation_functions,
            ),
            feature_descriptions=feature_descriptions(features),
            statistics_config=statistics_config_dict(
                statistics_config, f"feature group '{name}': statistics_config"
            ),
            expectation_suite=expectation_suite_dict(expectation_suite),
        )
        return FeatureGroup(self._backend, info)

    def get_or_create_feature_group(
        self, name: str, version: int | None = None, **kwargs: Any
    ) -> FeatureGroup:
        try:
            return self.get_feature_group(name, version)
        except FeatureGroupNotFound:
            return self.create_feature_group(name, version, **kwargs)

    def get_feature_group(self, name: str, version: int | None = None) -> FeatureGroup:
        """The given version, or the latest one when ``version`` is None."""
        return FeatureGroup(self._backend, self._backend.get_feature_group(name, version))

    def get_feature_groups(self, name: str | None = None) -> list[FeatureGroup]:
        return [FeatureGroup(self._backend, info) for info in self._backend.list_feature_groups(name)]

    # feature views ------------------------------------------------------------------
    def create_feature_view(
        self,
        name: str,
        query: Query,
        version: int | None = None,
        labels: list[str] | None = None,
        description: str = "",
        transformation_functions: list[Any] | dict[str, Any] | None = None,
        statistics_config: Any = None,
        inference_helper_columns: list[str] | None = None,
        training_helper_columns: list[str] | None = None,
        logging_enabled: bool = False,
    ) -> FeatureView:
        """Create a view of ``query`` whose ``labels`` are the targets.

        ``transformation_functions`` are bound functions (``[min_max_scaler("amount")]``)
        or, as in hsfs 3, ``{"amount": min_max_scaler}``.

        ``statistics_config`` (bool, dict or StatisticsConfig) is checked and not stored:
        every training dataset records statistics of its features whatever it says.

        ``inference_helper_columns`` and ``training_helper_columns`` name features of
        ``query`` that are not model inputs, as in hsfs: training data has the training
        helpers only with ``training_helper_columns=True``, batch data the inference
        helpers only with ``inference_helper_columns=True``, ``get_inference_helper(s)``
        reads the inference helpers online, and feature vectors have neither. A name
        the query does not select, or a label, is refused (``InvalidInput``).

        ``logging_enabled`` is accepted so Hopsworks notebooks create their view; Granary
        keeps no feature log, and ``fv.log()`` / ``fv.read_log()`` say what to use instead.
        """
        statistics_config_dict(statistics_config, f"feature view '{name}': statistics_config")
        if not isinstance(query, Query):
            raise InvalidInput(f"feature view '{name}': query must be a Query, got {type(query).__name__}")
        info = self._backend.create_feature_view(
            name=name,
            version=version,
            query=query.to_dict(),
            labels=_names(labels, "labels"),
            description=description,
            inference_helper_columns=_names(inference_helper_columns, "inference_helper_columns"),
            training_helper_columns=_names(training_helper_columns, "training_helper_columns"),
            transformations=describe_model_dependent(
                f"feature view '{name}'", _names(labels, "labels"), transformation_functions
            ),
        )
        return FeatureView(self._backend, info)

    def get_or_create_feature_view(
        self, name: str, version: int | None = None, query: Query | None = None, **kwargs: Any
    ) -> FeatureView:
        try:
            return self.get_feature_view(name, version)
        except FeatureViewNotFound:
            if query is None:
                raise
            return self.create_feature_view(name, query, version, **kwargs)

    def get_feature_view(self, name: str, version: int | None = None) -> FeatureView:
        return FeatureView(self._backend, self._backend.get_feature_view(name, version))

    def get_feature_views(self, name: str | None = None) -> list[FeatureView]:
        return [FeatureView(self._backend, info) for info in self._backend.list_feature_views(name)]

    # transformation functions --------------------------------------------------------
    def get_transformation_function(self, name: str, version: int | None = None) -> TransformationFunction:
        """A built-in transformation by its Hopsworks name, unbound: call it with the
        feature it takes, ``fs.get_transformation_function(name="min_max_scaler")("amount")``.

        Hopsworks registers its built-ins in every feature store as version 1. They are
        the only functions found by name here: a ``@udf`` function is passed itself,
        because Granary stores its code with each group or view that uses it.
        """
        from granary.builtin_transformations import BUILTINS

        function = BUILTINS.get(name)
        if function is None:
            raise NotFound(
                f"transformation function '{name}' does not exist; built-ins: {', '.join(sorted(BUILTINS))} "
                "(a @udf function is passed itself, not fetched by name)"
            )
        if version not in (None, 1):
            raise NotFound(f"transformation function '{name}' has version 1 only, not version {version}")
        return function
