"""Public Hopsworks tutorials (logicalclocks/hopsworks-tutorials), ported with the
login line changed and synthetic data of the downloads' schema, run cell by cell in a
fresh interpreter as a notebook kernel would: every feature-store call of their
feature, training and batch inference notebooks must pass. What each port changed
besides the login line is marked ``# port:`` in ``examples/hopsworks_tutorials``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TUTORIALS = Path(__file__).parent.parent / "examples" / "hopsworks_tutorials"


def run_tutorial(name: str, tmp_path: Path) -> dict:
    path = TUTORIALS / f"{name}.py"
    # A script file, not `python -c`: pyspark (installed with the spark extra) takes a
    # main module without a file for its own doctest run and exits 0 when Great
    # Expectations imports its Spark Connect modules.
    runner = tmp_path / "run_tutorial.py"
    runner.write_text(
        f"import json, runpy\nprint(json.dumps(runpy.run_path({str(path)!r})['summary'], default=str))\n"
    )
    env = {**os.environ, "GRANARY_HOME": str(tmp_path / "home")}
    env.pop("GRANARY_HOST", None)
    done = subprocess.run(
        [sys.executable, str(runner)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_fraud_batch(tmp_path):
    summary = run_tutorial("fraud_batch", tmp_path)
    # the joined aggregates' event time is `datetime`, as the notebook sorts and drops it
    assert (
        "datetime" not in summary["train_columns"] and "label_encoder_category_" in summary["train_columns"]
    )
    assert {"trans_freq", "loc_delta_mavg", "amount"} <= set(summary["train_columns"])
    assert summary["train_rows"] == summary["rows"] == summary["predictions"] == 600
    assert summary["batch_columns"] == summary["train_columns"]
    assert summary["validation"] is True  # a Great Expectations 1 suite object, validated on insert
    assert summary["descriptions"] == 13
    assert summary["untransformed_categories"] == [
        "Domestic Transport",
        "Grocery",
        "Health/Beauty",
        "Restaurant/Cafeteria",
    ]
    assert summary["f1_score"] > 0.7


def test_churn(tmp_path):
    summary = run_tutorial("churn", tmp_path)
    # customerid came from the subscriptions' select_all(include_event_time=False): the
    # notebook drops it from every split and from batch data
    assert "customerid" not in summary["train_columns"] and "seniorcitizen" in summary["train_columns"]
    assert len([c for c in summary["train_columns"] if c.startswith("label_encoder_")]) == 15
    assert len([c for c in summary["train_columns"] if c.startswith("min_max_scaler_")]) == 3
    assert summary["split_rows"] == summary["batch_rows"] == 500
    assert summary["test_accuracy"] > 0.8
    assert summary["predictions"] == ["Churn", "Not Churn"]
    assert "tenure" in summary["statistics_features"] and summary["tenure_max"] == 71.0


def test_loan_approval(tmp_path):
    summary = run_tutorial("loan_approval", tmp_path)
    # select_features() of both groups, joined on their common primary key `id`
    assert "id" not in summary["train_columns"] and "issue_d" not in summary["train_columns"]
    assert "earliest_cr_line" not in summary["train_columns"]
    assert {"loan_amnt", "zip_code", "annual_inc", "home_ownership"} <= set(summary["train_columns"])
    assert summary["split_rows"] == 500
    assert summary["batch_rows"] == summary["november_loans"] > 0  # "2016-11-01" to "2016-12-01"
    assert summary["roc_auc"] > 0.8
    assert summary["descriptions"] == {
        "int_rate": "Interest Rate on the loan",
        "zip_code": "Zip code",
        "annual_inc": "Self-reported annual income",
    }


def test_fraud_online(tmp_path):
    summary = run_tutorial("fraud_online", tmp_path)
    # select_all() selects the root's key and event time, so the splits have them: the
    # notebook sorts by `datetime`, then drops `tid`, `cc_num` and `datetime` by name
    assert summary["train_columns"] == [
        "amount",
        "loc_delta_t_minus_1",
        "time_delta_t_minus_1",
        "label_encoder_country_",
        "label_encoder_gender_",
    ]
    assert summary["split_rows"] == 400
    # and feature vectors have them first, where predict() drops indexes 0, 1 and 2
    tid, moment, cc_num = summary["vector_head"]
    assert tid.startswith("t") and moment.startswith("2022-") and cc_num > 4_467_360_740_682_000
    assert len(summary["predictions"]) == 5 and set(summary["predictions"]) <= {0, 1}
