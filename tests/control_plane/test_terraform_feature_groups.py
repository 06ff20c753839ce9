"""granary_feature_group and data.granary_feature_view_schema, driven by a real OpenTofu
CLI against a real control plane and a real data plane on the test region (PostgreSQL,
Kafka, Redis, S3): the group is made with its schema declared, inserts are checked
against it, a schema change of an existing version is refused by ``plan``, a new
version replaces it, and drift, import and destroy reach the region itself."""

from __future__ import annotations

import json
import time

import httpx
import pandas as pd
import pytest

import granary
from control_plane.regions import AdminApiRegion
from control_plane.settings import RegionSettings
from granary_core import errors
from tests.control_plane import tofu
from tests.control_plane.conftest import ADMIN_TOKEN, REGION_ADMIN_TOKEN, bearer
from tests.control_plane.test_managed import managed_service
from tests.control_plane.test_terraform import said


@pytest.fixture(scope="module")
def managed(region_env, cp_postgres, cp_template, cp_redis, smtp_sink):
    with managed_service(region_env, cp_postgres, cp_template, cp_redis, smtp_sink) as service:
        yield service


@pytest.fixture(scope="module")
def cli_config(tmp_path_factory):
    return tofu.cli_config(tofu.build(), tmp_path_factory.mktemp("tofu"))


@pytest.fixture
def workspace(cli_config, managed, tmp_path):
    return tofu.Workspace(
        tofu.build(),
        cli_config,
        tmp_path,
        {"GRANARY_HOST": managed.cp.url, "GRANARY_ADMIN_TOKEN": ADMIN_TOKEN},
    )


def config(
    *,
    version: int = 1,
    amount_type: str = "double",
    description: str = "card transactions",
    ttl: int = 86400,
    view_schema: bool = False,
) -> str:
    """A tenant, a project and one online feature group; with ``view_schema``, the
    schema of the feature view 'fraud_view' as outputs."""
    view = (
        """
data "granary_feature_view_schema" "fraud" {
  project = granary_project.fraud.name
  name    = "fraud_view"
}

output "view_columns" {
  value = [for c in data.granary_feature_view_schema.fraud.columns : "${c.name}:${c.type}:${c.label}"]
}
"""
        if view_schema
        else ""
    )
    return f"""
terraform {{
  required_providers {{
    granary = {{ source = "granary/granary" }}
  }}
}}

provider "granary" {{
  alias = "operator"
}}

resource "granary_tenant" "acme" {{
  provider        = granary.operator
  name            = "fgacme"
  admin_email     = "admin@fgacme.example.com"
  home_region     = "local"
  allowed_regions = ["local"]
  quotas          = {{ projects = 2 }}
}}

provider "granary" {{
  api_key = granary_tenant.acme.admin_key
}}

resource "granary_project" "fraud" {{
  name = "fraud"
}}

resource "granary_feature_group" "transactions" {{
  project     = granary_project.fraud.name
  name        = "transactions"
  version     = {version}
  description = "{description}"
  primary_key = ["cc_num"]
  event_time  = "ts"
  online      = true
  ttl_seconds = {ttl}
  features = [
    {{ name = "cc_num", type = "int64" }},
    {{ name = "ts", type = "timestamp[us, tz=UTC]" }},
    {{ name = "amount", type = "{amount_type}", description = "in EUR" }},
  ]
}}
{view}"""


def merchant(main_tf: str) -> str:
    """``main_tf`` with the feature 'merchant' declared after 'amount'."""
    amount = '{ name = "amount", type = "int64", description = "in EUR" },'
    return main_tf.replace(amount, amount + '\n    { name = "merchant", type = "string" },')


def rows(n: int, amount: type = float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cc_num": range(n),
            "ts": pd.date_range("2026-01-01", periods=n, freq="h", tz="UTC"),
            "amount": [amount(i) for i in range(n)],
        }
    )


def wait_empty(region: AdminApiRegion, scope: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        residue = region.residue(scope)
        if residue.empty() or time.monotonic() > deadline:
            return residue
        time.sleep(0.5)


def test_a_feature_group_is_made_refused_replaced_drifted_imported_and_destroyed(workspace, managed):
    workspace.write(config())
    workspace.init()
    changes = workspace.plan_changes()
    assert changes == {
        "granary_tenant.acme": ["create"],
        "granary_project.fraud": ["create"],
        "granary_feature_group.transactions": ["create"],
    }, changes
    workspace.apply()
    assert workspace.plan_changes() == {}

    admin_key = workspace.state("granary_tenant.acme")["admin_key"]
    project = managed.http.get("/v1/projects/fraud", headers=bearer(admin_key)).json()
    dp = httpx.Client(
        base_url=f"{project['data_plane_url']}/api/v1/projects/{project['metadata_scope']}",
        headers=bearer(admin_key),
        timeout=60,
    )
    group = dp.get("/feature-groups/transactions", params={"version": 1}).json()
    assert [(f["name"], f["type"], f["description"]) for f in group["features"]] == [
        ("cc_num", "int64", ""),
        ("ts", "timestamp[us, tz=UTC]", ""),
        ("amount", "double", "in EUR"),
    ]
    assert group["online_enabled"] and group["ttl_seconds"] == 86400 and group["event_time"] == "ts"

    # the declared schema holds for the SDK's inserts
    fs = granary.login(host=managed.cp.url, api_key=admin_key, project="fraud").get_feature_store()
    fg = fs.get_feature_group("transactions", 1)
    with pytest.raises(errors.SchemaMismatch, match="column 'amount' is string, expected double"):
        fg.insert(rows(3, amount=str))
    fg.insert(rows(3))

    # a description changes in place, and the rows stay
    workspace.write(config(description="card payments"))
    assert workspace.plan_changes() == {"granary_feature_group.transactions": ["update"]}
    workspace.apply()
    assert dp.get("/feature-groups/transactions").json()["description"] == "card payments"
    assert len(fg.read()) == 3

    # a type change of an existing version is refused by plan, naming the column
    workspace.write(config(description="card payments", amount_type="int64"))
    refused = workspace.run("plan", "-input=false", check=False)
    assert refused.returncode == 1
    assert (
        'feature group "transactions" v1 in project "fraud" exists, and the store cannot change its '
        'features (column "amount" double -> int64). Change `version` too' in said(refused)
    ), said(refused)
    # so is a declared type the store does not record, before anything is asked of it
    workspace.write(config(description="card payments", amount_type="float64"))
    refused = workspace.run("plan", "-input=false", check=False)
    assert refused.returncode == 1 and '"float64" is not a type the store records' in said(refused)
    # what the store cannot change in place replaces the group, and the plan says so
    workspace.write(config(description="card payments", ttl=3600))
    assert workspace.plan_changes() == {"granary_feature_group.transactions": ["delete", "create"]}
    assert len(fg.read()) == 3  # planning changed nothing

    # a new version with the new type replaces v1
    workspace.write(config(description="card payments", amount_type="int64", version=2))
    assert workspace.plan_changes() == {"granary_feature_group.transactions": ["delete", "create"]}
    workspace.apply()
    versions = {g["version"]: g["features"][2]["type"] for g in dp.get("/feature-groups").json()}
    assert versions == {2: "int64"}
    assert workspace.plan_changes() == {}

    # drift: deleted out of band, made again by the next apply
    assert dp.delete("/feature-groups/transactions/versions/2").status_code == 204
    assert workspace.plan_changes() == {"granary_feature_group.transactions": ["create"]}
    workspace.apply()
    # a column added by an insert shows in the plan as a change the store refuses
    fg2 = fs.get_feature_group("transactions", 2)
    fg2.insert(rows(4, amount=int).assign(merchant="m"))
    refused = workspace.run("plan", "-input=false", check=False)
    assert refused.returncode == 1 and 'column "merchant" (string) removed' in said(refused), said(refused)

    # import adopts the stored group: the next plan has nothing to do
    with_merchant = merchant(config(description="card payments", amount_type="int64", version=2))
    workspace.write(with_merchant)
    workspace.run("state", "rm", "granary_feature_group.transactions")
    bad = workspace.run("import", "granary_feature_group.transactions", "fraud/transactions", check=False)
    assert bad.returncode == 1 and "expected PROJECT/NAME/VERSION" in said(bad)
    workspace.run("import", "granary_feature_group.transactions", "fraud/transactions/2")
    assert workspace.plan_changes() == {}

    # the schema of a view over it, read by the data source
    fs.create_feature_view("fraud_view", version=1, query=fg2.select_all(), labels=["amount"])
    workspace.write(
        merchant(config(description="card payments", amount_type="int64", version=2, view_schema=True))
    )
    workspace.apply()
    columns = json.loads(workspace.run("output", "-json", "view_columns").stdout)
    assert columns == [
        "cc_num:BIGINT:false",
        "ts:TIMESTAMP WITH TIME ZONE:false",
        "amount:BIGINT:true",
        "merchant:VARCHAR:false",
    ], columns

    # destroy leaves nothing of the project in the region
    workspace.write(with_merchant)
    assert dp.delete("/feature-views/fraud_view/versions/1").status_code == 204
    workspace.destroy()
    region = AdminApiRegion("local", RegionSettings(url=managed.plane.api_url, token=REGION_ADMIN_TOKEN))
    assert wait_empty(region, project["metadata_scope"]).empty()
    region.close()
    dp.close()
    print(f"tofu runs={workspace.runs}")
