"""Run the whole fraud example: feature, training, batch and online inference pipelines."""

from __future__ import annotations

import os
import time
from pathlib import Path

import granary
from examples.fraud import batch_inference, feature_pipeline, online_inference, training_pipeline


def main(home: str | os.PathLike[str] | None = None) -> dict[str, dict]:
    project = granary.login(home=home)
    model_dir = Path(project.backend.home) / "models"
    summary = {}
    for name, step in [
        ("feature pipeline", lambda: feature_pipeline.run(project)),
        ("training pipeline", lambda: training_pipeline.run(project, model_dir)),
        ("batch inference", lambda: batch_inference.run(project, model_dir)),
        ("online inference", lambda: online_inference.run(project, model_dir)),
    ]:
        started = time.perf_counter()
        print(f"-> {name} ...", flush=True)
        summary[name] = step()
        print(f"   {summary[name]}  ({time.perf_counter() - started:.1f} s)", flush=True)
    return summary


if __name__ == "__main__":
    main()
