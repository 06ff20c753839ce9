"""The model registry, from the SDK on both backends: save with checksummed artifacts,
read back, lineage both ways, and the feature view a model brings for serving."""

from __future__ import annotations

import hashlib
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import granary
from granary.builtin_transformations import min_max_scaler
from granary_core import errors


def _rows(n: int, start: int, scale: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cc": np.arange(start, start + n),
            "ts": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), unit="h"),
            "amount": np.linspace(0.0, scale, n),
            "is_fraud": np.arange(n) % 2,
        }
    )


@pytest.fixture
def view(fs):
    """A view with a model-dependent scaler, and training dataset 1 over amounts 0..10."""
    tx = fs.create_feature_group("tx", version=1, primary_key=["cc"], event_time="ts", online_enabled=True)
    tx.insert(_rows(20, 0, 10.0))
    fv = fs.create_feature_view(
        "fraud",
        version=1,
        query=tx.select_all(include_primary_key=False, include_event_time=False),
        labels=["is_fraud"],
        transformation_functions=[min_max_scaler("amount")],
    )
    version, _ = fv.create_training_data()
    assert version == 1
    return fv


def _train(view, folder: Path) -> tuple[LogisticRegression, pd.DataFrame, pd.DataFrame]:
    x, y = view.get_training_data(1)
    model = LogisticRegression().fit(x, y["is_fraud"])
    folder.mkdir()
    joblib.dump(model, folder / "model.pkl")
    (folder / "extra").mkdir()
    (folder / "extra" / "notes.txt").write_text("trained on fraud v1, td 1\n")
    return model, x, y


def test_save_then_read_back_every_field_and_byte(project, view, tmp_path):
    model, x, y = _train(view, tmp_path / "artifacts")
    mr = project.get_model_registry()
    saved = mr.sklearn.create_model(
        "fraud_model",
        metrics={"accuracy": 0.5},
        description="logistic regression",
        input_example=x.head(3),
        model_schema=granary.ModelSchema(granary.Schema(x), granary.Schema(y)),
        feature_view=view,
        training_dataset_version=1,
    ).save(tmp_path / "artifacts")
    assert saved.version == 1 and saved.state == "ready"

    got = mr.get_model("fraud_model", 1)
    assert (got.framework, got.description, got.training_metrics) == (
        "sklearn",
        "logistic regression",
        {"accuracy": 0.5},
    )
    assert (got.feature_view_name, got.feature_view_version, got.training_dataset_version) == ("fraud", 1, 1)
    assert list(x.columns) == ["min_max_scaler_amount_"]
    assert got.input_example == {"min_max_scaler_amount_": float(x.iloc[0, 0])}
    scaled = {"name": "min_max_scaler_amount_", "type": "double"}
    assert got.model_schema["input_schema"]["columnar_schema"] == [scaled]
    assert got.model_schema["output_schema"]["columnar_schema"] == [{"name": "is_fraud", "type": "int64"}]
    expected = {
        "model.pkl": hashlib.sha256((tmp_path / "artifacts" / "model.pkl").read_bytes()).hexdigest(),
        "extra/notes.txt": hashlib.sha256(b"trained on fraud v1, td 1\n").hexdigest(),
    }
    assert {a["path"]: a["sha256"] for a in got.artifacts} == expected

    folder = Path(got.download(tmp_path / "downloaded"))
    assert (folder / "extra" / "notes.txt").read_text() == "trained on fraud v1, td 1\n"
    loaded = joblib.load(folder / "model.pkl")
    assert (loaded.predict(x) == model.predict(x)).all()


def test_versions_latest_and_best(project, view, tmp_path):
    _train(view, tmp_path / "a")
    mr = project.get_model_registry()
    for accuracy in (0.7, 0.9, 0.8):
        mr.python.create_model("m", metrics={"accuracy": accuracy, "loss": 1 - accuracy}).save(tmp_path / "a")
    assert [m.version for m in mr.get_models("m")] == [1, 2, 3]
    assert mr.get_model("m").version == 3  # latest
    assert mr.get_best_model("m", "accuracy", "max").version == 2
    assert mr.get_best_model("m", "loss", "min").version == 2
    assert mr.get_best_model("m", "f1", "max") is None
    with pytest.raises(errors.ModelNotFound, match="model 'm' version 9 does not exist"):
        mr.get_model("m", 9)


def test_feature_view_of_a_model_serves_with_its_training_dataset_statistics(project, view, tmp_path):
    """Training dataset 2 sees amounts up to 100; the model trained on 1 must still be
    served with 1's min/max, or the scaled feature it gets is not what it learnt on."""
    fs = project.get_feature_store()
    fs.get_feature_group("tx", 1).insert(_rows(20, 100, 100.0))
    assert view.create_training_data()[0] == 2
    _train(view, tmp_path / "a")
    model = project.get_model_registry().sklearn.create_model(
        "m", feature_view=view, training_dataset_version=1
    )
    model.save(tmp_path / "a")

    served = project.get_model_registry().get_model("m").get_feature_view()
    vector = served.get_feature_vector({"cc": 119}, return_type="dict")
    assert vector["min_max_scaler_amount_"] == pytest.approx(100.0 / 10.0)  # (100 - 0) / (10 - 0)
    latest = fs.get_feature_view("fraud", 1)
    latest.init_serving(training_dataset_version=2)
    assert latest.get_feature_vector({"cc": 119}, return_type="dict")["min_max_scaler_amount_"] == 1.0


def test_lineage_both_ways_and_deletes_refused_while_a_model_uses_them(project, view, tmp_path):
    _train(view, tmp_path / "a")
    mr = project.get_model_registry()
    model = mr.sklearn.create_model("m", feature_view=view, training_dataset_version=1).save(tmp_path / "a")
    assert [(m.name, m.version) for m in view.get_models()] == [("m", 1)]
    assert view.get_models(training_dataset_version=2) == []

    with pytest.raises(errors.InUse, match=r"feature view 'fraud' v1 is used by model 'm' v1"):
        view.delete()
    with pytest.raises(
        errors.InUse, match=r"training dataset version 1 of feature view 'fraud' v1 .* model 'm' v1"
    ):
        view.delete_training_dataset(1)
    # nothing changed on refusal: the view and the dataset's files are still there
    fs = project.get_feature_store()
    x, _ = fs.get_feature_view("fraud", 1).get_training_data(1)
    assert len(x) == 20

    model.delete()
    with pytest.raises(errors.ModelNotFound):
        mr.get_model("m", 1)
    view.delete_training_dataset(1)
    assert view.get_training_datasets() == []
    view.delete()
    with pytest.raises(errors.FeatureViewNotFound):
        fs.get_feature_view("fraud", 1)


def test_lineage_must_exist_and_artifacts_must_match_their_checksums(project, view, tmp_path):
    mr = project.get_model_registry()
    (tmp_path / "model.bin").write_bytes(b"weights")
    with pytest.raises(errors.TrainingDatasetNotFound, match="no training dataset version 7"):
        mr.python.create_model("m", feature_view=view, training_dataset_version=7).save(
            tmp_path / "model.bin"
        )
    assert mr.get_models("m") == []

    backend = project.backend
    digest = hashlib.sha256(b"weights").hexdigest()
    info = backend.create_model(
        name="m",
        version=None,
        framework="python",
        artifacts=[{"path": "model.bin", "size": 7, "sha256": digest}],
    )
    with pytest.raises(errors.ChecksumMismatch, match=r"artifact 'model\.bin' has 7 bytes with SHA-256"):
        backend.put_model_file("m", info.version, "model.bin", b"WEIGHTS")
    with pytest.raises(errors.InvalidInput, match=r"'other\.bin' is not in the manifest"):
        backend.put_model_file("m", info.version, "other.bin", b"weights")
    with pytest.raises(errors.InvalidInput, match="must be relative"):
        backend.put_model_file("m", info.version, "../escape", b"weights")
    got = mr.get_model("m", info.version)
    assert got.state == "uploading"
    with pytest.raises(errors.ModelNotFound, match=r"'model\.bin' was never uploaded"):
        got.download(tmp_path / "d")
    assert backend.put_model_file("m", info.version, "model.bin", b"weights").state == "ready"
    assert (
        Path(mr.get_model("m", info.version).download(tmp_path / "d")) / "model.bin"
    ).read_bytes() == b"weights"
