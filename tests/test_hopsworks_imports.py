"""A Hopsworks notebook's imports work after ``from granary import hopsworks``, and only then.

Each check runs in a fresh interpreter: what a notebook sees depends on ``sys.modules``.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import granary
from granary_core import errors


def run(code: str, tmp_path, fake_hopsworks: bool = False) -> str:
    env_path = [str(tmp_path)] if fake_hopsworks else []
    if fake_hopsworks:  # a stand-in for the real package, installed beside Granary
        (tmp_path / "hopsworks").mkdir(exist_ok=True)
        (tmp_path / "hopsworks" / "__init__.py").write_text("REAL = True\n")
    prelude = f"import sys; sys.path[:0] = {env_path!r}\n"
    done = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_notebook_imports_work_after_the_compatibility_import(tmp_path):
    out = run(
        """
        from granary import hopsworks
        from hsfs.builtin_transformations import label_encoder, min_max_scaler, standard_scaler
        from hopsworks.hsfs.builtin_transformations import robust_scaler, one_hot_encoder
        from hsfs.transformation_statistics import TransformationStatistics
        from hopsworks.hsfs.transformation_statistics import TransformationStatistics as T2
        from hsfs.feature import Feature
        from hsfs.statistics_config import StatisticsConfig
        from hopsworks.hsfs.statistics_config import StatisticsConfig as S2
        from hsfs.client.exceptions import RestAPIError, FeatureStoreException
        import hsfs
        import granary
        assert label_encoder is granary.builtin.label_encoder and T2 is TransformationStatistics
        assert S2 is StatisticsConfig and StatisticsConfig(columns=["a"]).to_dict()["columns"] == ["a"]
        assert issubclass(granary.errors.FeatureGroupNotFound, hsfs.client.exceptions.RestAPIError)
        f = Feature("amount", type="double", description="in euros")
        print(f.name, f.type, f.description, hopsworks.udf is granary.udf)
        """,
        tmp_path,
    )
    assert out.split() == ["amount", "double", "in", "euros", "True"]


def test_importing_granary_leaves_a_real_hopsworks_package_alone(tmp_path):
    out = run("import granary, hopsworks; print(getattr(hopsworks, 'REAL', False))", tmp_path, True)
    assert out.strip() == "True"


def test_the_compatibility_import_does_not_replace_an_already_imported_hopsworks(tmp_path):
    out = run(
        "import hopsworks\nfrom granary import hopsworks as compat\n"
        "import sys; print(sys.modules['hopsworks'].REAL, compat.__name__)",
        tmp_path,
        True,
    )
    assert out.split() == ["True", "granary.hopsworks"]


def test_login_takes_hopsworks_keywords(tmp_path):
    from granary import hopsworks

    project = hopsworks.login(home=tmp_path, hostname_verification=False, engine="python")
    assert project.get_feature_store().name == "default_featurestore"


@pytest.mark.parametrize(
    ("call", "alternative"),
    [
        ("get_jobs_api", "scheduler"),
        ("get_dataset_api", "fv.get_training_data"),
        ("get_opensearch_api", "vector"),
    ],
)
def test_platform_parts_granary_lacks_say_what_to_use(tmp_path, call, alternative):
    project = granary.login(home=tmp_path)
    with pytest.raises(errors.NotSupported, match=alternative):
        getattr(project, call)()


def test_model_schema_imports_of_hsml(tmp_path):
    out = run(
        """
        from granary import hopsworks
        import pandas as pd
        from hsml.schema import Schema
        from hsml.model_schema import ModelSchema
        import granary
        assert Schema is granary.Schema and ModelSchema is granary.ModelSchema
        x = pd.DataFrame({"amount": [1.5]})
        print(ModelSchema(input_schema=Schema(x)).to_dict()["input_schema"])
        """,
        tmp_path,
    )
    assert out.strip() == "{'columnar_schema': [{'name': 'amount', 'type': 'double'}]}"


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("c.app.hopsworks.ai", None, "https://c.app.hopsworks.ai:443"),  # Hopsworks' defaults
        ("c.app.hopsworks.ai", 8181, "https://c.app.hopsworks.ai:8181"),
        ("http://127.0.0.1", 9000, "http://127.0.0.1:9000"),
        ("http://127.0.0.1:9000/", None, "http://127.0.0.1:9000"),
    ],
)
def test_login_host_and_port_make_the_url(host, port, expected):
    from granary import hopsworks

    assert hopsworks.url(host, port) == expected


def test_login_refuses_a_host_naming_another_port():
    from granary import hopsworks

    with pytest.raises(errors.InvalidInput, match="names port 9000, and port=9001"):
        hopsworks.url("http://127.0.0.1:9000", 9001)


def test_login_honours_port_against_a_data_plane(data_plane):
    from urllib.parse import urlsplit

    from granary import hopsworks

    _, key = data_plane.new_key()
    where = urlsplit(data_plane.api_url)
    project = hopsworks.login(host=f"{where.scheme}://{where.hostname}", port=where.port, api_key_value=key)
    fg = project.get_feature_store().create_feature_group("reached", 1, primary_key=["id"])
    assert fg.name == "reached"
