"""Batch inference pipeline: score the newest day of payments with the trained model."""

from __future__ import annotations

import pickle
from pathlib import Path

import granary


def run(project: granary.Project, model_dir: Path) -> dict[str, float]:
    fv = project.get_feature_store().get_feature_view("fraud", version=1)
    model = pickle.loads((model_dir / "fraud_model.pkl").read_bytes())
    batch = fv.get_batch_data(start_time="2025-03-31", end_time="2025-04-01", primary_key=True)
    scores = model.predict_proba(batch.drop(columns=["tid", "cc_num"]))[:, 1]
    flagged = int((scores > 0.2).sum())
    return {"scored": len(batch), "flagged": flagged, "mean_score": round(float(scores.mean()), 4)}


if __name__ == "__main__":
    print(run(granary.login(), Path("granary-data/models")))
