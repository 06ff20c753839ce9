"""Online inference pipeline: score payments as they arrive, one feature vector each.

The request carries the payment (card, amount, hour); the card's features come from
the online store in one round trip, the on-demand features are computed from the
request by the same functions used at insert, and the model scores the vector.
"""

from __future__ import annotations

import pickle
import statistics
import time
from pathlib import Path

import numpy as np

import granary


def run(project: granary.Project, model_dir: Path, n_requests: int = 200) -> dict[str, float]:
    fs = project.get_feature_store()
    fv = fs.get_feature_view("fraud", version=1)
    saved = pickle.loads((model_dir / "fraud_model.pkl").read_bytes())
    model = saved["model"]
    fv.init_serving(training_dataset_version=saved["training_dataset"])
    cards = fs.get_feature_group("card_profiles", version=1).read()["cc_num"].to_numpy()
    rng = np.random.default_rng(5)
    latencies, scores = [], []
    for _ in range(n_requests):
        request = {"amount": float(rng.lognormal(3.5, 1.1)), "hour_of_day": int(rng.integers(0, 24))}
        started = time.perf_counter()
        vector = fv.get_feature_vector(
            {"cc_num": int(rng.choice(cards))}, request_parameters=request, return_type="pandas"
        )
        scores.append(float(model.predict_proba(vector[model.feature_names_in_])[0, 1]))
        latencies.append((time.perf_counter() - started) * 1000)
    batch = fv.get_feature_vectors(
        [{"cc_num": int(c)} for c in cards[:500]],
        request_parameters={"amount": 900.0, "hour_of_day": 3},
        return_type="pandas",
    )
    risky = model.predict_proba(batch[model.feature_names_in_])[:, 1]
    deployed = _deployment_scores(project, [int(c) for c in cards[:3]])
    return {
        "requests": n_requests,
        "p50_ms_vector_and_model": round(statistics.median(latencies), 2),
        "mean_score": round(float(np.mean(scores)), 4),
        "night_900_mean_score": round(float(risky.mean()), 4),
        "night_900_first_scores": [round(float(s), 4) for s in risky[:3]],
        "deployment_night_900_scores": deployed,
    }


def _deployment_scores(project: granary.Project, cards: list[int]) -> list[float]:
    """The registry's best model, deployed with predictor.py and called as a service is."""
    best = project.get_model_registry().get_best_model("fraud", "roc_auc", "max")
    serving = project.get_model_serving()
    for old in serving.get_deployments():
        if old.name == "fraud":
            old.stop().delete()
    deployment = best.deploy(name="fraud", script_file=Path(__file__).parent / "predictor.py")
    deployment.start()
    payments = [{"cc_num": c, "amount": 900.0, "hour_of_day": 3} for c in cards]
    scores = deployment.predict(inputs=payments)["predictions"]
    deployment.stop()
    return [round(s, 4) for s in scores]


if __name__ == "__main__":
    print(run(granary.login(), Path("granary-data/models")))
