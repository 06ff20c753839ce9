"""Batch inference pipeline: score the last day of payments with the trained model.

The payments are the spine, so each is scored with the card's features as of its own
time, and the view's model-dependent transformation is applied as in training.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import granary


def run(project: granary.Project, model_dir: Path) -> dict[str, float]:
    fs = project.get_feature_store()
    fv = fs.get_feature_view("fraud", version=1)
    saved = pickle.loads((model_dir / "fraud_model.pkl").read_bytes())
    fv.init_batch_scoring(training_dataset_version=saved["training_dataset"])
    payments = fs.get_feature_group("transactions", version=1).read(
        start_time="2025-03-31", end_time="2025-04-01"
    )
    batch = fv.get_batch_data(spine=payments[["cc_num", "ts"]])
    scores = saved["model"].predict_proba(batch[saved["model"].feature_names_in_])[:, 1]
    return {
        "scored": len(batch),
        "flagged": int((scores > 0.2).sum()),
        "mean_score": round(float(scores.mean()), 4),
    }


if __name__ == "__main__":
    print(run(granary.login(), Path("granary-data/models")))
