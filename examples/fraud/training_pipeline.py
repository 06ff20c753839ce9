"""Training pipeline: a feature view, a versioned training dataset, a model and a metric.

Labelled payments are the spine: each gets the card's features as they were at the
moment of the payment (point-in-time correct), never later ones.
"""

from __future__ import annotations

import pickle
from pathlib import Path

from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

import granary
from granary.builtin_transformations import standard_scaler


def feature_view(fs: granary.FeatureStore) -> granary.FeatureView:
    activity = fs.get_feature_group("card_activity", version=1)
    profiles = fs.get_feature_group("card_profiles", version=1)
    query = activity.select_all(include_primary_key=False, include_event_time=False).join(
        profiles.select(["age", "tenure_days", "credit_limit"]), on=["cc_num"], prefix="card_"
    )
    return fs.get_or_create_feature_view(
        name="fraud",
        version=1,
        query=query,
        labels=["is_fraud"],
        transformation_functions=[standard_scaler("card_credit_limit")],
    )


def labelled_payments(fs: granary.FeatureStore):
    return fs.get_feature_group("transactions", version=1).read()[["cc_num", "ts", "is_fraud"]]


def run(project: granary.Project, model_dir: Path) -> dict[str, float]:
    fs = project.get_feature_store()
    fv = feature_view(fs)
    version, _ = fv.create_train_test_split(
        train_start="2025-01-01",
        train_end="2025-03-01",
        test_start="2025-03-01",
        test_end="2025-04-01",
        spine=labelled_payments(fs),
    )
    x_train, x_test, y_train, y_test = fv.get_train_test_split(version)
    model = HistGradientBoostingClassifier(max_iter=200, random_state=0)
    model.fit(x_train, y_train["is_fraud"])
    auc = roc_auc_score(y_test["is_fraud"], model.predict_proba(x_test)[:, 1])
    model_dir.mkdir(parents=True, exist_ok=True)
    (model_dir / "fraud_model.pkl").write_bytes(pickle.dumps({"model": model, "training_dataset": version}))
    registered = (
        project.get_model_registry()
        .sklearn.create_model(
            "fraud",
            metrics={"roc_auc": float(auc)},
            description="HistGradientBoostingClassifier on card activity and profiles",
            input_example=x_train.head(1),
            model_schema=granary.ModelSchema(granary.Schema(x_train), granary.Schema(y_train)),
            feature_view=fv,
            training_dataset_version=version,
        )
        .save(model_dir / "fraud_model.pkl")
    )
    return {
        "model_version": registered.version,
        "training_dataset_version": version,
        "train_rows": len(x_train),
        "test_rows": len(x_test),
        "features": x_train.shape[1],
        "roc_auc": round(float(auc), 3),
    }


if __name__ == "__main__":
    print(run(granary.login(), Path("granary-data/models")))
