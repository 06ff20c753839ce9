"""Feature groups: versioned tables of features with a primary key and an event time.

The object validates arguments and hands the work to its backend; it holds no data.
One row is kept per (primary key, event time): inserting a row with the same key and
event time again replaces it. Every insert is a commit, and reads can go back to any
past commit (``read(wallclock_time=...)``, ``as_of``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from granary.group_options import expectation_suite_dict, statistics_config_dict
from granary.query import Feature, Query
from granary.spark.frames import is_spark_frame, spark_engine
from granary.transformations import TransformationFunction, apply_on_demand, load
from granary_core.errors import InvalidInput, NotFound, NotSupported
from granary_core.frames import from_arrow, to_arrow, to_utc
from granary_core.specs import CommitInfo, FeatureGroupInfo

if TYPE_CHECKING:
    from granary.backend import Backend

OPERATIONS = ("upsert", "insert")


class FeatureGroup:
    def __init__(self, backend: Backend, info: FeatureGroupInfo) -> None:
        self._backend = backend
        self._info = info

    # description --------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._info.name

    @property
    def version(self) -> int:
        return self._info.version

    @property
    def id(self) -> str:
        return self._info.id

    @property
    def primary_key(self) -> list[str]:
        return list(self._info.primary_key)

    @property
    def event_time(self) -> str | None:
        return self._info.event_time

    @property
    def online_enabled(self) -> bool:
        return self._info.online_enabled

    @property
    def description(self) -> str:
        return self._info.description

    @property
    def ttl(self) -> float | None:
        """Seconds after its event time that a row stops being served or joined."""
        return self._info.ttl_seconds

    @property
    def transformation_functions(self) -> list[TransformationFunction]:
        """On-demand transformations, computed at insert and again from request parameters."""
        return load(self._info.transformations)

    @property
    def features(self) -> list[Feature]:
        return [
            Feature(f.name, f.type, self.name, self.version, f.primary, f.event_time, f.description)
            for f in self._info.features
        ]

    @property
    def schema(self) -> list[Feature]:
        return self.features

    def get_feature(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        known = ", ".join(f.name for f in self.features) or "none yet; insert data first"
        raise InvalidInput(
            f"feature group '{self.name}' v{self.version} has no feature '{name}' (features: {known})"
        )

    def __getitem__(self, name: str) -> Feature:
        return self.get_feature(name)

    def __getattr__(self, name: str) -> Feature:
        """``fg.amount`` is the feature ``amount``; any other unknown name is an
        ``AttributeError`` naming that attribute, as for any Python object."""
        if not name.startswith("_"):
            for feature in self.features:
                if feature.name == name:
                    return feature
        raise AttributeError(f"'FeatureGroup' object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"FeatureGroup({self.name!r}, version={self.version}, primary_key={self.primary_key})"

    def _refresh(self) -> None:
        self._info = self._backend.get_feature_group(self.name, self.version)

    # descriptive metadata (Hopsworks' names) ------------------------------------------
    def _update(self, **changes: Any) -> FeatureGroup:
        self._info = self._backend.update_feature_group(self.name, self.version, changes)
        return self

    def update_description(self, description: str) -> FeatureGroup:
        return self._update(description=description)

    def update_feature_description(self, feature_name: str, description: str) -> FeatureGroup:
        self.get_feature(feature_name)
        return self._update(
            feature_descriptions={**self._info.feature_descriptions, feature_name: description}
        )

    def add_tag(self, name: str, value: Any) -> None:
        """Attach a JSON-able value under ``name``, replacing one of that name."""
        self._update(tags={**self._info.tags, name: value})

    def get_tag(self, name: str) -> Any:
        if name not in self._info.tags:
            raise NotFound(f"feature group '{self.name}' v{self.version} has no tag '{name}'")
        return self._info.tags[name]

    def get_tags(self) -> dict[str, Any]:
        return dict(self._info.tags)

    def delete_tag(self, name: str) -> None:
        self.get_tag(name)
        self._update(tags={k: v for k, v in self._info.tags.items() if k != name})

    @property
    def statistics_config(self) -> dict[str, Any]:
        """Which statistics to compute; set it, then ``update_statistics_config()`` stores it."""
        return dict(self.__dict__.get("_pending_statistics", self._info.statistics_config))

    @statistics_config.setter
    def statistics_config(self, value: Any) -> None:
        where = f"feature group '{self.name}' v{self.version}: statistics_config"
        self.__dict__["_pending_statistics"] = statistics_config_dict(value, where)

    def update_statistics_config(self) -> FeatureGroup:
        return self._update(statistics_config=self.statistics_config)

    def compute_statistics(self, wallclock_time: Any = None) -> dict[str, dict[str, Any]]:
        """Descriptive statistics per feature of all rows visible at ``wallclock_time``
        (default: now): count, null fraction, distinct, min, max, mean, std, quartiles,
        histograms, top values, computed in DuckDB where the data is;
        ``statistics_config["columns"]`` (this object's, even before
        ``update_statistics_config()``) limits them; they need not be ``enabled``.

        As in Hopsworks they are stored on the commit visible at ``wallclock_time``,
        replacing the statistics its insert recorded, so ``get_statistics()`` returns them
        until a later commit records its own.

        A group with no data then (no commit at or before ``wallclock_time``) has nothing
        to describe and no commit to store on: this returns ``{}`` and stores nothing, as
        hsfs does (it also warns)."""
        columns = self.statistics_config.get("columns") or None
        moment = to_utc(wallclock_time, "wallclock_time")
        stored = self._backend.compute_statistics(self.name, self.version, moment, columns)
        return {} if stored is None else stored["statistics"]

    def get_statistics(self, commit_time: Any = None) -> dict[str, Any] | None:
        """The statistics stored with the newest commit at or before ``commit_time``
        (default: the latest): ``{"commit_id", "committed_at", "statistics": {feature:
        ...}}``, each commit describing the rows it wrote. Commits have them while
        ``statistics_config`` is enabled (``{"enabled": True}``); None before that."""
        return self._backend.commit_statistics(self.name, self.version, to_utc(commit_time, "commit_time"))

    # expectation suites (validated on insert: data_plane.validation) ----------------------
    @property
    def expectation_suite(self) -> dict[str, Any] | None:
        """Great Expectations' JSON form of the suite, with ``validation_ingestion_policy``."""
        return self._info.expectation_suite

    def save_expectation_suite(
        self, expectation_suite: Any, validation_ingestion_policy: str | None = None, **ignored: Any
    ) -> dict[str, Any] | None:
        """Attach a suite (JSON form or a ``great_expectations`` suite object). ``ALWAYS``
        (default) stores every insert and its report; ``STRICT`` refuses failing rows."""
        self._update(expectation_suite=expectation_suite_dict(expectation_suite, validation_ingestion_policy))
        return self.expectation_suite

    def get_expectation_suite(self) -> dict[str, Any] | None:
        return self.expectation_suite

    def delete_expectation_suite(self) -> None:
        self._update(expectation_suite=None)

    def get_validation_reports(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Reports of validated inserts, newest first (``ingestion_result``: INGESTED or REJECTED)."""
        return self._backend.validation_reports(self.name, self.version, limit)

    def get_latest_validation_report(self) -> dict[str, Any] | None:
        reports = self.get_validation_reports(limit=1)
        return reports[0] if reports else None

    # writes -------------------------------------------------------------------------
    def insert(
        self,
        features: Any,
        overwrite: bool = False,
        operation: str = "upsert",
        storage: str | None = None,
        write_options: dict[str, Any] | None = None,
        validation_options: dict[str, Any] | None = None,
        save_code: bool = True,
        wait: bool = True,
    ) -> CommitInfo:
        """Insert a pandas, polars or pyarrow dataframe; returns the commit.

        The first insert fixes the schema. Later inserts may add columns (older rows
        read them as null); a column with another type is refused, naming both types.
        ``overwrite=True`` replaces all rows (earlier commits stay readable).
        ``wait=False`` returns None as soon as a remote data plane has acknowledged the
        rows (they are durable, not yet visible); embedded inserts are visible on return.

        The arguments are Hopsworks' and in its order, so notebooks run unchanged (the
        second positional one is ``overwrite``). ``operation``, ``storage``,
        ``write_options``, ``validation_options`` and ``save_code`` are accepted and do
        nothing: every insert upserts by primary key into both stores, there is no write
        job to tune or code to save, and an expectation suite always validates.
        """
        if storage not in (None, "online", "offline"):
            raise InvalidInput(f"storage {storage!r} is not one of None, 'online', 'offline'")
        if operation not in OPERATIONS:
            raise InvalidInput(f"operation {operation!r} is not one of {OPERATIONS}")
        if is_spark_frame(features):
            return self._insert_spark(features, overwrite, wait)
        table = to_arrow(features, f"feature group '{self.name}' v{self.version}: insert")
        if self._info.transformations:
            table = apply_on_demand(
                f"feature group '{self.name}' v{self.version}", self._info.transformations, table
            )
        commit = self._backend.insert(self.name, self.version, table, overwrite=overwrite, wait=wait)
        self._refresh()
        return commit

    def _insert_spark(self, frame: Any, overwrite: bool, wait: bool) -> CommitInfo | None:
        """A Spark DataFrame. Embedded: staged as Parquet by Spark and committed a slice
        of ``data_plane.spark_engine.ROWS_PER_COMMIT`` rows at a time (one commit each,
        the first one overwriting when asked), so the driver holds one slice. Managed:
        each executor sends its partitions through the REST API with the caller's key
        (:mod:`granary.spark.executors`)."""
        where = f"feature group '{self.name}' v{self.version}: insert"
        given = {c.lower() for c in frame.columns}
        missing = [c for c in [*self.primary_key, self.event_time] if c and c not in given]
        if missing:  # refused before any Spark job starts, with nothing sent
            raise InvalidInput(f"{where}: the Spark DataFrame has no column {', '.join(map(repr, missing))}")
        if not hasattr(self._backend, "spark_engine"):
            if overwrite:
                raise NotSupported(
                    f"{where}: overwrite=True with a Spark DataFrame needs an embedded project"
                )
            from granary.spark.executors import insert_from_executors

            return insert_from_executors(frame, self._backend.connection(), self.name, self.version, wait)
        spark = spark_engine(self._backend, where)
        commit = None
        for i, table in enumerate(spark.staged(frame, self._backend.spark_staging)):
            commit = self.insert(table, overwrite=overwrite and i == 0, wait=wait)
        assert commit is not None
        return commit

    def remove_rows(self, rows: Any) -> CommitInfo:
        """Delete the rows whose primary key and event time match rows of ``rows``."""
        table = to_arrow(rows, f"feature group '{self.name}' v{self.version}: remove_rows")
        return self._backend.remove_rows(self.name, self.version, table)

    def compact(self, wait: bool = True) -> CommitInfo | None:
        """Rewrite the offline table from many small files (each insert adds some) into
        few large ones, so reads open fewer files; returns the ``compact`` commit.

        The rows do not change, and time travel is kept: every earlier commit stays
        readable, so the files its version reads stay stored until the group is deleted.
        A remote data plane also compacts on its own after many commits (the region's
        ``GRANARY_COMPACT_AFTER_COMMITS``). ``wait=False`` returns None once a remote data
        plane has queued the compaction.
        """
        return self._backend.compact(self.name, self.version, wait=wait)

    def delete(self) -> None:
        """Drop the group: its metadata, every commit and its online rows."""
        self._backend.delete_feature_group(self.name, self.version)

    # reads --------------------------------------------------------------------------
    def read(
        self,
        wallclock_time: Any = None,
        start_time: Any = None,
        end_time: Any = None,
        dataframe_type: str = "pandas",
        online: bool = False,
    ) -> Any:
        """Read the rows visible at ``wallclock_time`` (default: now).

        ``start_time`` (inclusive) and ``end_time`` (exclusive) filter on event time.
        ``online=True`` reads the online store: the newest row per primary key.
        """
        if online:
            table = self._backend.read_online(self.name, self.version)
        else:
            table = self._backend.read(
                self.name,
                self.version,
                wallclock_time=to_utc(wallclock_time, "wallclock_time"),
                start_time=to_utc(start_time, "start_time"),
                end_time=to_utc(end_time, "end_time"),
            )
        return from_arrow(table, dataframe_type)

    def show(self, n: int = 10) -> Any:
        return self.read().head(n)

    def commit_details(
        self, wallclock_time: Any = None, limit: int | None = None
    ) -> dict[int, dict[str, Any]]:
        """Commits, newest first, as Hopsworks shows them: id -> what it changed."""
        commits = self._backend.commit_details(self.name, self.version, limit)
        moment = to_utc(wallclock_time, "wallclock_time")
        return {
            c.commit_id: {
                "committed_on": c.committed_at,
                "operation": c.operation,
                "rows_inserted": c.rows_inserted,
                "rows_updated": c.rows_updated,
                "rows_deleted": c.rows_deleted,
                "epoch": c.epoch,
                "table_version": c.table_version,
            }
            for c in commits
            if moment is None or c.committed_at <= moment
        }

    # queries ------------------------------------------------------------------------
    def select_all(self, include_primary_key: bool = True, include_event_time: bool = True) -> Query:
        """Every feature, the primary key and event time included unless asked not to,
        as hsfs' ``select_all()`` does: a feature view of it returns them in training
        data, batch data and feature vectors. ``include_primary_key=False`` /
        ``include_event_time=False`` leave them out of the query (reads add them back
        with ``primary_key=True`` / ``event_time=True``)."""
        if include_primary_key and include_event_time:
            return Query(self)
        keys = set() if include_primary_key else set(self.primary_key)
        if not include_event_time and self.event_time:
            keys.add(self.event_time)
        return Query(self, [f.name for f in self.features if f.name not in keys])

    def select_features(self) -> Query:
        """Every feature but the primary key and event time."""
        return self.select_all(include_primary_key=False, include_event_time=False)

    def select(self, features: str | Feature | list[str | Feature]) -> Query:
        """The named features; a single name (``select("amount")``) is one feature."""
        return Query(self, self._names(features))

    def select_except(self, features: str | Feature | list[str | Feature] | None = None) -> Query:
        excluded = set(self._names(features or []))
        return Query(self, [f.name for f in self.features if f.name not in excluded])

    def _names(self, features: str | Feature | list[str | Feature]) -> list[str]:
        if isinstance(features, str | Feature):
            features = [features]
        names = [f.name if isinstance(f, Feature) else f for f in features]
        for name in names:
            self.get_feature(name)
        return names

    def filter(self, condition: Any) -> Query:
        return self.select_all().filter(condition)

    def as_of(self, wallclock_time: Any) -> Query:
        return self.select_all().as_of(wallclock_time)
