"""The fraud example runs end to end (as `make demo` does) and the CLI describes it."""

from __future__ import annotations

import pytest

from examples.fraud import run_all
from granary import cli


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("demo")
    summary = run_all.main(home)
    return home, summary


def test_example_trains_a_useful_model(demo_home):
    _, summary = demo_home
    assert summary["feature pipeline"] == {"cards": 2000, "payments": 60000}
    training = summary["training pipeline"]
    assert training["train_rows"] + training["test_rows"] == 60000
    assert training["roc_auc"] > 0.75
    assert summary["batch inference"]["scored"] > 0
    online = summary["online inference"]
    assert online["requests"] == 200
    # A 900 payment at 3 am must look riskier than ordinary traffic to the model.
    assert online["night_900_mean_score"] > 3 * online["mean_score"]
    # the registered model, deployed with its predictor, scores as the model does in process
    assert training["model_version"] == 1
    assert online["deployment_night_900_scores"] == online["night_900_first_scores"]


def test_example_is_rerunnable_on_the_same_home(demo_home):
    home, _ = demo_home
    again = run_all.main(home)
    # Same data re-inserted replaces rows: counts do not double.
    assert again["training pipeline"]["train_rows"] + again["training pipeline"]["test_rows"] == 60000
    assert again["training pipeline"]["training_dataset_version"] == 2
    assert again["training pipeline"]["model_version"] == 2
    assert len(again["online inference"]["deployment_night_900_scores"]) == 3


def test_cli_lists_and_shows(demo_home, capsys):
    home, _ = demo_home
    assert cli.main(["--home", str(home), "fg", "list"]) == 0
    out = capsys.readouterr().out
    assert "transactions" in out and "card_profiles" in out and "card_activity" in out
    assert cli.main(["--home", str(home), "fg", "show", "transactions"]) == 0
    out = capsys.readouterr().out
    assert "primary key" in out and "timestamp[us, tz=UTC]" in out
    assert cli.main(["--home", str(home), "fv", "show", "fraud"]) == 0
    out = capsys.readouterr().out
    assert "ASOF LEFT JOIN" in out and "card_age" in out
    assert cli.main(["--home", str(home), "fv", "list"]) == 0
    assert "fraud" in capsys.readouterr().out


def test_cli_errors_are_messages_not_tracebacks(tmp_path, capsys):
    assert cli.main(["--home", str(tmp_path), "fg", "show", "missing"]) == 2
    assert "feature group 'missing'" in capsys.readouterr().out
