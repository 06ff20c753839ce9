"""Feature views: a stored query plus labels, the interface for training and inference.

Training data is read point-in-time correct: each row gets the feature values that
were known at its event time, never later ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa

from granary.feature_logging import FeatureLoggingMixin
from granary.query import Query, query_from_dict
from granary.serving import ServingMixin, _train_statistics
from granary.spark.frames import is_spark_frame, spark_engine
from granary_core.errors import InvalidInput, NotSupported
from granary_core.frames import from_arrow, to_arrow, to_utc
from granary_core.specs import FeatureGroupInfo, FeatureViewInfo, TrainingDatasetInfo, helper_columns

if TYPE_CHECKING:
    from granary.backend import Backend
    from granary.model import Model


class ViewColumn(NamedTuple):
    """A column of a feature view: a ``(name, type)`` tuple with those attributes."""

    name: str
    type: str


_HOPSWORKS_TYPES = {
    "BIGINT": "bigint",
    "INTEGER": "int",
    "SMALLINT": "smallint",
    "TINYINT": "tinyint",
    "HUGEINT": "bigint",
    "UBIGINT": "bigint",
    "UINTEGER": "bigint",
    "USMALLINT": "int",
    "UTINYINT": "smallint",
    "DOUBLE": "double",
    "FLOAT": "float",
    "VARCHAR": "string",
    "BOOLEAN": "boolean",
    "DATE": "date",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
    "TIMESTAMP_NS": "timestamp",
    "TIMESTAMP_MS": "timestamp",
    "TIMESTAMP_S": "timestamp",
    "BLOB": "binary",
}


def hopsworks_type(duckdb_type: str) -> str:
    """The offline (Hive) type name Hopsworks shows for a DuckDB column type:
    ``BIGINT`` is ``bigint``, ``VARCHAR`` ``string``, ``DOUBLE[]`` ``array<double>``,
    ``DECIMAL(10,2)`` ``decimal(10,2)``; a type with no Hive name is lower-cased."""
    if duckdb_type.endswith("[]"):
        return f"array<{hopsworks_type(duckdb_type[:-2])}>"
    return _HOPSWORKS_TYPES.get(duckdb_type, duckdb_type.lower())


class TrainingDatasetJob:
    """What ``create_training_data`` started; embedded writes finish before it returns."""

    def __init__(self, info: TrainingDatasetInfo) -> None:
        self.info = info
        self.state = "FINISHED"
        self.location = info.location

    def __repr__(self) -> str:
        return f"TrainingDatasetJob(version={self.info.version}, state={self.state!r})"


class FeatureView(ServingMixin, FeatureLoggingMixin):
    """Training data, batch data and feature vectors of a query (serving: granary.serving).

    With model-dependent transformations, every read of features applies them: files of
    a training dataset version with that version's train-split statistics, in-memory
    training data (``training_data``, ``train_test_split``...) with statistics computed
    on the train split just read, and ``get_batch_data`` and feature vectors with the
    statistics of the version chosen by ``init_batch_scoring`` / ``init_serving``
    (default: the latest).
    """

    def __init__(self, backend: Backend, info: FeatureViewInfo) -> None:
        self._backend = backend
        self._info = info

    @property
    def name(self) -> str:
        return self._info.name

    @property
    def version(self) -> int:
        return self._info.version

    @property
    def labels(self) -> list[str]:
        return list(self._info.labels)

    @property
    def inference_helper_columns(self) -> list[str]:
        """Features read for inference only when asked: ``get_batch_data(
        inference_helper_columns=True)`` and ``get_inference_helper(s)``."""
        return list(self._info.inference_helper_columns)

    @property
    def training_helper_columns(self) -> list[str]:
        """Features read with training data only when asked (``training_helper_columns=True``)."""
        return list(self._info.training_helper_columns)

    @property
    def description(self) -> str:
        return self._info.description

    @property
    def query(self) -> Query:
        from granary.feature_group import FeatureGroup

        def lookup(name: str, version: int) -> FeatureGroup:
            return FeatureGroup(self._backend, self._backend.get_feature_group(name, version))

        return query_from_dict(self._info.query, lookup)

    @property
    def schema(self) -> list[ViewColumn]:
        """(feature name, type) of every column the query returns, typed as Hopsworks
        shows them (``bigint``, ``double``, ``string``, ``timestamp``: :func:`hopsworks_type`);
        each item also has ``.name`` and ``.type``, as Hopsworks' training dataset features do."""
        columns = self._backend.feature_view_schema(self.name, self.version)
        return [ViewColumn(name, hopsworks_type(typ)) for name, typ in columns]

    @property
    def features(self) -> list[ViewColumn]:
        return self.schema

    def __repr__(self) -> str:
        return f"FeatureView({self.name!r}, version={self.version}, labels={self.labels})"

    def delete(self) -> None:
        self._backend.delete_feature_view(self.name, self.version)

    # shaping ------------------------------------------------------------------------
    def _root_keys(self) -> tuple[list[str], str | None]:
        root = self._backend.get_feature_group(
            self._info.query["fg"]["name"], self._info.query["fg"]["version"]
        )
        return root.primary_key, root.event_time

    def _split_xy(
        self,
        table: pa.Table,
        primary_key: bool,
        event_time: bool,
        dataframe_type: str,
        with_labels: bool = True,
        statistics: dict[str, Any] | None = None,
        transform: bool = True,
        left_out: frozenset[str] = frozenset(),
    ) -> tuple[Any, Any]:
        """``(X, y)`` of a read; ``left_out``: the helper columns it does not return."""
        self._check_labels(table.column_names if with_labels else self.labels)
        drop = self._left_out_of_x(primary_key, event_time, left_out)
        features = table.select([c for c in table.column_names if c not in self.labels])
        if transform:
            features = self._transform_features(features, statistics)
        x = _unprefix(
            features.select([c for c in features.column_names if c not in drop]), self._joined_times()
        )
        if not with_labels:
            return from_arrow(x, dataframe_type), None
        y = table.select([c for c in self.labels if c in table.column_names]) if self.labels else None
        return from_arrow(x, dataframe_type), None if y is None else from_arrow(y, dataframe_type)

    def _check_labels(self, columns: list[str]) -> None:
        for label in self.labels:
            if label not in columns:
                raise InvalidInput(
                    f"feature view '{self.name}' v{self.version}: label '{label}' is neither a feature "
                    "of the query nor a column of the spine"
                )

    def _left_out_of_x(self, primary_key: bool, event_time: bool, left_out: frozenset[str]) -> set[str]:
        """The columns of a read that X does not have: labels, helpers not asked for,
        and the root's key and event time unless asked for."""
        keys, time_column = self._root_keys()
        helpers = set(helper_columns(self._info.query, keys, time_column))
        drop = set(self.labels) | left_out
        if not primary_key:
            drop.update(helpers.intersection(keys) - self._joined_keys())
        if not event_time and time_column in helpers:
            drop.add(time_column)
        return drop

    def _joined_times(self) -> dict[str, str]:
        """``{prefixed: plain}`` names of the joined groups' event times the query selects.

        The plan names such a column ``{group}_{column}`` whenever the root's key or
        event time has its name, because a read may return that root column. Hopsworks
        prefixes only a name that is ambiguous in what a read returns, so a read that
        leaves the root's column out returns the joined one by its plain name
        (``trans_fg.select([...]).join(aggs_fg.select_all())`` has ``datetime``)."""
        return self._joined_names()[0]

    def _joined_keys(self) -> set[str]:
        """Primary key names a joined group's selection selects (``select_all()`` and
        ``select_all(include_event_time=False)`` do). The plan returns the root's
        column for them; Hopsworks returns a joined key its query selects whether or not
        the root's is selected, so a read keeps that column even without ``primary_key=True``."""
        return self._joined_names()[1]

    def _joined_names(self) -> tuple[dict[str, str], set[str]]:
        if "_joined_names_cache" not in self.__dict__:
            times: dict[str, str] = {}
            keys: set[str] = set()
            for join in _joins(self._info.query):
                spec = join["query"]
                group = self._backend.get_feature_group(spec["fg"]["name"], spec["fg"]["version"])
                selected = spec.get("features")
                if group.event_time and (selected is None or group.event_time in selected):
                    plain = join.get("prefix", "") + group.event_time
                    times[f"{group.name}_{plain}"] = plain
                keys.update(k for k in group.primary_key if selected is None or k in selected)
            self.__dict__["_joined_names_cache"] = (times, keys)
        return self.__dict__["_joined_names_cache"]

    def _left_out(self, training: bool, asked: bool) -> frozenset[str]:
        """The helper columns a read leaves out, as in hsfs: training reads never return
        inference helpers and return training helpers when asked; batch reads the other
        way round. A column in both lists is returned by either read that asks."""
        trainers, inferers = set(self.training_helper_columns), set(self.inference_helper_columns)
        own, other = (trainers, inferers) if training else (inferers, trainers)
        return frozenset((other - own) | (set() if asked else own))

    @staticmethod
    def _spine(spine: Any) -> pa.Table | None:
        return None if spine is None else to_arrow(spine, "spine")

    # training data in memory ----------------------------------------------------------
    def training_data(
        self,
        start_time: Any = None,
        end_time: Any = None,
        spine: Any = None,
        primary_key: bool = False,
        event_time: bool = False,
        training_helper_columns: bool = False,
        dataframe_type: str = "pandas",
        engine: str | None = None,
    ) -> tuple[Any, Any]:
        """``(X, y)`` for rows with event time in [start_time, end_time); X has the
        training helper columns only with ``training_helper_columns=True``.

        ``engine="spark"`` returns Spark DataFrames computed by a Spark job over the
        offline tables (the spine may be a Spark DataFrame too): the same rows as the
        default engine, for data no single machine holds. Nothing is recorded."""
        if _engine(engine) == "spark":
            spark = self._spark("training_data")
            frame = spark.training_frame(
                self._info, to_utc(start_time), to_utc(end_time), _spark_spine(spark.spark, spine)
            )
            left_out = self._left_out(training=True, asked=training_helper_columns)
            return self._spark_xy(frame, primary_key, event_time, left_out)
        splits, stats = self._splits({"seed": 42}, spine, start_time, end_time)
        left_out = self._left_out(training=True, asked=training_helper_columns)
        return self._split_xy(
            splits["train"], primary_key, event_time, dataframe_type, statistics=stats, left_out=left_out
        )

    def _spark(self, where: str) -> Any:
        if self._info.transformations:
            raise NotSupported(
                f"feature view '{self.name}' v{self.version}: {where}(engine='spark') does not apply "
                "model-dependent transformations; read with the default engine"
            )
        return spark_engine(self._backend, f"feature view '{self.name}' v{self.version}: {where}")

    def _spark_xy(
        self, frame: Any, primary_key: bool, event_time: bool, left_out: frozenset[str]
    ) -> tuple[Any, Any]:
        """:meth:`_split_xy` for a Spark DataFrame: the same columns, selected lazily."""
        self._check_labels(frame.columns)
        drop = self._left_out_of_x(primary_key, event_time, left_out)
        kept = [c for c in frame.columns if c not in drop]
        renames = _unprefixed(kept, self._joined_times())
        x = frame.select([frame[f"`{c}`"].alias(renames.get(c, c)) for c in kept])
        y = frame.select([frame[f"`{c}`"] for c in self.labels]) if self.labels else None
        return x, y

    def training_data_batches(
        self,
        start_time: Any = None,
        end_time: Any = None,
        spine: Any = None,
        primary_key: bool = False,
        event_time: bool = False,
        training_helper_columns: bool = False,
        training_dataset_version: int | None = None,
    ) -> pa.RecordBatchReader:
        """:meth:`training_data` as Arrow record batches read while the query runs (over
        Arrow Flight when remote), for training data larger than memory: each batch has X's
        columns, then the labels. Memory stays at the store's DuckDB limit (``memory_limit``
        of ``granary.login``, a region's ``GRANARY_QUERY_MEMORY_LIMIT``) and a few batches.

        Nothing is recorded (no training dataset version: its statistics would need every
        row first), so model-dependent transformations that need statistics take those of
        ``training_dataset_version`` (default: the latest), as ``get_batch_data`` does.
        """
        rows = self._backend.training_batches(
            self.name, self.version, to_utc(start_time), to_utc(end_time), self._spine(spine)
        )
        _, stats = self._training_statistics(training_dataset_version)
        left_out = self._left_out(training=True, asked=training_helper_columns)

        def shape(batch: pa.RecordBatch) -> pa.RecordBatch:
            table = pa.Table.from_batches([batch], schema=rows.schema)
            x, y = self._split_xy(
                table, primary_key, event_time, "pyarrow", statistics=stats, left_out=left_out
            )
            columns = [*x.columns, *([] if y is None else y.columns)]
            both = pa.Table.from_arrays(
                columns, names=[*x.column_names, *([] if y is None else y.column_names)]
            )
            batches = both.to_batches()  # one batch in, one out, not copied
            return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=both.schema)

        # shaping no rows checks the labels and gives the schema before the first batch
        schema = shape(pa.RecordBatch.from_pylist([], schema=rows.schema)).schema
        return pa.RecordBatchReader.from_batches(schema, (shape(b) for b in rows))

    def _splits(
        self, options: dict[str, Any], spine: Any, start_time: Any, end_time: Any
    ) -> tuple[dict[str, pa.Table], dict[str, Any] | None]:
        """The splits, and the train split's statistics for transformations.

        As in Hopsworks, reading training data in memory records a training dataset
        version (no files; its statistics), so ``init_serving(training_dataset_version=n)``
        and ``init_batch_scoring(n)`` can name it; ``self.training_dataset_version_read``
        is that version. The embedded store records it from the splits it read (one
        query); a remote one records on the data plane and streams the rows after.
        """
        start, end, rows = to_utc(start_time), to_utc(end_time), self._spine(spine)
        info, splits = self._backend.read_training_splits(self.name, self.version, options, start, end, rows)
        self.training_dataset_version_read = info.version
        stats = _train_statistics(info.statistics) if self._needs_statistics() else None
        return splits, stats

    def train_test_split(
        self,
        test_size: float | None = None,
        train_start: Any = None,
        train_end: Any = None,
        test_start: Any = None,
        test_end: Any = None,
        seed: int = 42,
        spine: Any = None,
        primary_key: bool = False,
        event_time: bool = False,
        training_helper_columns: bool = False,
        dataframe_type: str = "pandas",
    ) -> tuple[Any, Any, Any, Any]:
        """``X_train, X_test, y_train, y_test``: random by ``test_size`` or by time ranges."""
        options = _split_options(
            seed, test_size=test_size, train=(train_start, train_end), test=(test_start, test_end)
        )
        splits, stats = self._splits(options, spine, None, None)
        left_out = self._left_out(training=True, asked=training_helper_columns)
        (x_train, y_train), (x_test, y_test) = [
            self._split_xy(
                splits[s], primary_key, event_time, dataframe_type, statistics=stats, left_out=left_out
            )
            for s in ("train", "test")
        ]
        return x_train, x_test, y_train, y_test

    def train_validation_test_split(
        self,
        validation_size: float | None = None,
        test_size: float | None = None,
        train_start: Any = None,
        train_end: Any = None,
        validation_start: Any = None,
        validation_end: Any = None,
        test_start: Any = None,
        test_end: Any = None,
        seed: int = 42,
        spine: Any = None,
        primary_key: bool = False,
        event_time: bool = False,
        training_helper_columns: bool = False,
        dataframe_type: str = "pandas",
    ) -> tuple[Any, Any, Any, Any, Any, Any]:
        """``X_train, X_val, X_test, y_train, y_val, y_test``."""
        options = _split_options(
            seed,
            test_size=test_size,
            validation_size=validation_size,
            train=(train_start, train_end),
            validation=(validation_start, validation_end),
            test=(test_start, test_end),
        )
        splits, stats = self._splits(options, spine, None, None)
        left_out = self._left_out(training=True, asked=training_helper_columns)
        parts = [
            self._split_xy(
                splits[s], primary_key, event_time, dataframe_type, statistics=stats, left_out=left_out
            )
            for s in ("train", "validation", "test")
        ]
        return parts[0][0], parts[1][0], parts[2][0], parts[0][1], parts[1][1], parts[2][1]

    def get_batch_data(
        self,
        start_time: Any = None,
        end_time: Any = None,
        spine: Any = None,
        primary_key: bool = False,
        event_time: bool = False,
        inference_helper_columns: bool = False,
        dataframe_type: str = "pandas",
        transformed: bool = True,
    ) -> Any:
        """Features (no labels) for batch inference, point-in-time correct for a spine.

        ``inference_helper_columns``: add the view's inference helper columns (training
        helper columns are never in batch data). ``transformed``: apply the
        model-dependent transformations (statistics of the training dataset version of
        ``init_batch_scoring``, default the latest).
        """
        table = self._backend.run_query(
            self._info.query,
            spine=self._spine(spine),
            start_time=to_utc(start_time),
            end_time=to_utc(end_time),
            include_keys=True,
        )
        transformed = transformed and bool(self.transformation_functions)
        stats = self._batch_statistics() if transformed else None
        x, _ = self._split_xy(
            table,
            primary_key,
            event_time,
            dataframe_type,
            False,
            statistics=stats,
            transform=transformed,
            left_out=self._left_out(training=False, asked=inference_helper_columns),
        )
        return x

    # training datasets as files ---------------------------------------------------------
    def create_training_data(
        self,
        start_time: Any = None,
        end_time: Any = None,
        data_format: str = "parquet",
        spine: Any = None,
        description: str = "",
        seed: int = 42,
        engine: str | None = None,
    ) -> tuple[int, TrainingDatasetJob]:
        return self._create({"seed": seed}, start_time, end_time, data_format, spine, description, engine)

    def create_train_test_split(
        self,
        test_size: float | None = None,
        train_start: Any = None,
        train_end: Any = None,
        test_start: Any = None,
        test_end: Any = None,
        data_format: str = "parquet",
        spine: Any = None,
        description: str = "",
        seed: int = 42,
        engine: str | None = None,
    ) -> tuple[int, TrainingDatasetJob]:
        options = _split_options(
            seed, test_size=test_size, train=(train_start, train_end), test=(test_start, test_end)
        )
        return self._create(options, None, None, data_format, spine, description, engine)

    def create_train_validation_test_split(
        self,
        validation_size: float | None = None,
        test_size: float | None = None,
        train_start: Any = None,
        train_end: Any = None,
        validation_start: Any = None,
        validation_end: Any = None,
        test_start: Any = None,
        test_end: Any = None,
        data_format: str = "parquet",
        spine: Any = None,
        description: str = "",
        seed: int = 42,
        engine: str | None = None,
    ) -> tuple[int, TrainingDatasetJob]:
        options = _split_options(
            seed,
            test_size=test_size,
            validation_size=validation_size,
            train=(train_start, train_end),
            validation=(validation_start, validation_end),
            test=(test_start, test_end),
        )
        return self._create(options, None, None, data_format, spine, description, engine)

    def _create(
        self,
        options: dict[str, Any],
        start_time: Any,
        end_time: Any,
        data_format: str,
        spine: Any,
        description: str,
        engine: str | None = None,
    ) -> tuple[int, TrainingDatasetJob]:
        """Write a training dataset: with ``engine="spark"`` a Spark job computes and
        writes it (parquet or csv, each split a folder of part files), reading the same
        rows; a random split is Spark's own draw with the seed."""
        if _engine(engine) == "spark":
            spark = self._spark("create_training_data")
            info = spark.create_training_dataset(
                self._info,
                self._backend.spark_training_root,
                data_format,
                options,
                to_utc(start_time),
                to_utc(end_time),
                _spark_spine(spark.spark, spine),
                description,
            )
            return info.version, TrainingDatasetJob(info)
        info = self._backend.create_training_dataset(
            self.name,
            self.version,
            data_format,
            options,
            to_utc(start_time),
            to_utc(end_time),
            self._spine(spine),
            description,
        )
        return info.version, TrainingDatasetJob(info)

    def get_training_dataset(self, training_dataset_version: int) -> TrainingDatasetInfo:
        """What was recorded for a version: query SQL, options, statistics, location."""
        return self._backend.get_training_dataset(self.name, self.version, training_dataset_version)[0]

    def get_training_dataset_statistics(self, training_dataset_version: int) -> dict[str, Any]:
        """Per split, per feature: the statistics recorded with that version."""
        return self.get_training_dataset(training_dataset_version).statistics

    def get_training_datasets(self) -> list[TrainingDatasetInfo]:
        return self._backend.list_training_datasets(self.name, self.version)

    def delete_training_dataset(self, training_dataset_version: int) -> None:
        """Delete a version's files and record; refused (``InUse``) while a model names it."""
        self._backend.delete_training_dataset(self.name, self.version, training_dataset_version)

    def get_models(self, training_dataset_version: int | None = None) -> list[Model]:
        """The models trained on this feature view (on one training dataset version if given)."""
        from granary.model import Model

        infos = self._backend.list_models(feature_view=self.name, feature_view_version=self.version)
        return [
            Model._from_info(self._backend, info)
            for info in infos
            if training_dataset_version is None or info.training_dataset_version == training_dataset_version
        ]

    def _read_version(
        self,
        version: int,
        wanted: tuple[str, ...],
        primary_key: bool,
        event_time: bool,
        dataframe_type: str,
        training_helper_columns: bool = False,
    ) -> list[Any]:
        """The splits ``wanted`` of a version's files, which hold every feature of the
        query: the helper columns are left out here, as for training data in memory."""
        info, tables = self._backend.get_training_dataset(self.name, self.version, version)
        missing = [s for s in wanted if s not in tables]
        if missing:
            raise InvalidInput(
                f"training dataset version {version} of '{self.name}' v{self.version} has splits "
                f"{sorted(tables)}, not {missing}"
            )
        stats = _train_statistics(info.statistics) if self._needs_statistics() else None
        left_out = self._left_out(training=True, asked=training_helper_columns)
        return [
            self._split_xy(
                tables[s], primary_key, event_time, dataframe_type, statistics=stats, left_out=left_out
            )
            for s in wanted
        ]

    def get_training_data(
        self,
        training_dataset_version: int,
        primary_key: bool = False,
        event_time: bool = False,
        training_helper_columns: bool = False,
        dataframe_type: str = "pandas",
    ) -> tuple[Any, Any]:
        return self._read_version(
            training_dataset_version,
            ("train",),
            primary_key,
            event_time,
            dataframe_type,
            training_helper_columns,
        )[0]

    def get_train_test_split(
        self,
        training_dataset_version: int,
        primary_key: bool = False,
        event_time: bool = False,
        training_helper_columns: bool = False,
        dataframe_type: str = "pandas",
    ) -> tuple[Any, Any, Any, Any]:
        (xtr, ytr), (xte, yte) = self._read_version(
            training_dataset_version,
            ("train", "test"),
            primary_key,
            event_time,
            dataframe_type,
            training_helper_columns,
        )
        return xtr, xte, ytr, yte

    def get_train_validation_test_split(
        self,
        training_dataset_version: int,
        primary_key: bool = False,
        event_time: bool = False,
        training_helper_columns: bool = False,
        dataframe_type: str = "pandas",
    ) -> tuple[Any, Any, Any, Any, Any, Any]:
        (xtr, ytr), (xv, yv), (xte, yte) = self._read_version(
            training_dataset_version,
            ("train", "validation", "test"),
            primary_key,
            event_time,
            dataframe_type,
            training_helper_columns,
        )
        return xtr, xv, xte, ytr, yv, yte


def _joins(query: dict[str, Any]) -> list[dict[str, Any]]:
    """Every join of a stored query, nested ones too."""
    joins = list(query.get("joins", []))
    return joins + [j for join in joins for j in _joins(join["query"])]


def view_groups(backend: Backend, query: dict[str, Any]) -> list[FeatureGroupInfo]:
    """The groups a stored query reads: its root, then every joined one."""
    specs = [query["fg"], *(j["query"]["fg"] for j in _joins(query))]
    return [backend.get_feature_group(g["name"], g["version"]) for g in specs]


def _unprefix(table: pa.Table, joined_times: dict[str, str]) -> pa.Table:
    """``table`` with each prefixed joined event time renamed to its plain name when
    that name is free (see ``FeatureView._joined_times``)."""
    renames = _unprefixed(table.column_names, joined_times)
    if not renames:
        return table
    return table.rename_columns([renames.get(c, c) for c in table.column_names])


def _spark_spine(session: Any, spine: Any) -> Any:
    """A spine for the Spark engine: a Spark DataFrame as it is, any other frame loaded."""
    if spine is None or is_spark_frame(spine):
        return spine
    return session.createDataFrame(to_arrow(spine, "spine").to_pandas())


def _engine(engine: str | None) -> str:
    if engine not in (None, "python", "duckdb", "spark"):
        raise InvalidInput(f"engine {engine!r} is not 'spark' or the default (None, 'python')")
    return engine or "python"


def _unprefixed(columns: list[str], joined_times: dict[str, str]) -> dict[str, str]:
    taken = set(columns)
    return {c: joined_times[c] for c in columns if c in joined_times and joined_times[c] not in taken}


def _split_options(
    seed: int, test_size: float | None = None, validation_size: float | None = None, **ranges: tuple[Any, Any]
) -> dict[str, Any]:
    """Random sizes or time ranges, never a mix: a mix has no single meaning."""
    given = {k: v for k, v in ranges.items() if v[0] is not None or v[1] is not None}
    if given and (test_size is not None or validation_size is not None):
        raise InvalidInput("give either split sizes or split time ranges, not both")
    if given:
        missing = [k for k in ranges if k not in given]
        if missing:
            raise InvalidInput(f"time-based split: no range given for {', '.join(missing)}")
        return {
            "seed": seed,
            "ranges": {k: [_iso(a, f"{k}_start"), _iso(b, f"{k}_end")] for k, (a, b) in ranges.items()},
        }
    if test_size is None:
        raise InvalidInput("give test_size (and validation_size) or start/end times for every split")
    if "validation" in ranges and validation_size is None:
        raise InvalidInput("give validation_size for a train/validation/test split")
    return {"seed": seed, "test_size": test_size, "validation_size": validation_size}


def _iso(value: Any, what: str) -> str | None:
    moment = to_utc(value, what)
    return moment.isoformat() if moment else None
