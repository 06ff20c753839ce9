"""The Terraform provider (terraform/provider) driven by a real OpenTofu CLI against a real
control plane: create, no change on a second plan, update in place, drift, import,
destroy, and refusals that name what is wrong.

The control plane's regions are a real data plane on the test region (PostgreSQL, Kafka,
Redis, S3), linked to it as in production: the projects ``tofu apply`` makes are
provisioned there, and after every destroy the region's admin API is asked what is left
of each. The regions ``local`` and ``eu-1`` are the same data plane under two names (one
plane started, not two): placement in two regions is the control plane's bookkeeping,
and the provisioning under either name is real."""

from __future__ import annotations

import importlib.util
import json

import pytest

from control_plane.regions import AdminApiRegion
from control_plane.settings import RegionSettings
from tests.control_plane import tofu
from tests.control_plane.conftest import ADMIN, ADMIN_TOKEN, REGION_ADMIN_TOKEN, add_user, bearer, make_tenant
from tests.control_plane.test_managed import Managed, managed_service

MEMBER_PASSWORD = "pass-" + "w" * 10


def said(result) -> str:
    """The CLI's diagnostics with its line wrapping undone."""
    return " ".join(result.stderr.split())


@pytest.fixture(scope="module")
def binaries() -> tofu.Binaries:
    return tofu.build()


@pytest.fixture(scope="module")
def cli_config(binaries, tmp_path_factory):
    return tofu.cli_config(binaries, tmp_path_factory.mktemp("tofu"))


@pytest.fixture(scope="module")
def managed(region_env, cp_postgres, cp_template, cp_redis, smtp_sink):
    regions = ("local", "eu-1")
    with managed_service(region_env, cp_postgres, cp_template, cp_redis, smtp_sink, regions) as service:
        yield service


@pytest.fixture
def http(managed):
    return managed.http


@pytest.fixture
def workspace(binaries, cli_config, managed, tmp_path):
    """A configuration directory; host and operator token come from GRANARY_* variables."""
    return tofu.Workspace(
        binaries, cli_config, tmp_path, {"GRANARY_HOST": managed.cp.url, "GRANARY_ADMIN_TOKEN": ADMIN_TOKEN}
    )


def scopes(http, admin: dict[str, str]) -> dict[str, str]:
    """The tenant's projects' scopes in their region, by project name."""
    return {p["name"]: p["metadata_scope"] for p in http.get("/v1/projects", headers=admin).json()}


def assert_nothing_left(
    managed: Managed, tenant: str, credentials: list[dict[str, str]], project_scopes: list[str]
) -> None:
    """After a destroy: the control plane knows neither the tenant nor its keys, and the
    region holds nothing of its projects, checked as the control plane's own clean-up
    checks before it calls a project deleted (the admin API's residue of each). Nothing
    is waited for here: destroy returns once each project's region is clean."""
    http = managed.http
    assert http.get(f"/v1/admin/tenants/{tenant}", headers=ADMIN).status_code == 404
    assert tenant not in [t["name"] for t in http.get("/v1/admin/tenants", headers=ADMIN).json()]
    refused = [http.get("/v1/projects", headers=headers).status_code for headers in credentials]
    assert refused == [401] * len(credentials), refused
    left = residue(managed, project_scopes)
    assert project_scopes and left == dict.fromkeys(project_scopes, "nothing"), left


def residue(managed: Managed, project_scopes: list[str]) -> dict[str, str]:
    """What the region holds of each project, as its admin API answers the control plane."""
    region = AdminApiRegion("local", RegionSettings(url=managed.plane.api_url, token=REGION_ADMIN_TOKEN))
    try:
        return {scope: str(region.residue(scope)) for scope in project_scopes}
    finally:
        region.close()


def enterprise(
    tenant: str,
    *,
    projects: int = 3,
    role: str = "data_scientist",
    suspended: bool = False,
    member: str | None = None,
    eu_region: str = "eu-1",
    standbys: str = '["eu-1"]',
) -> str:
    """A tenant with a project in each of two regions (the first with a standby), a
    member, and a CI key."""
    member_block = (
        f"""
resource "granary_member" "ds" {{
  project = granary_project.fraud.name
  email   = "{member}"
  role    = "{role}"
}}"""
        if member
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
  name            = "{tenant}"
  admin_email     = "admin@{tenant}.example.com"
  home_region     = "local"
  allowed_regions = ["local", "eu-1"]
  sla_tier        = "premium"
  suspended       = {str(suspended).lower()}
  quotas = {{
    projects    = {projects}
    online_rows = 5000000
  }}
}}

provider "granary" {{
  api_key = granary_tenant.acme.admin_key
}}

resource "granary_project" "fraud" {{
  name     = "fraud"
  standbys = {standbys}
}}

resource "granary_project" "fraud_eu" {{
  name   = "fraud-eu"
  region = "{eu_region}"
  depends_on = [granary_project.fraud]
}}
{member_block}

resource "granary_api_key" "ci" {{
  name    = "ci-pipeline"
  project = granary_project.fraud.name
  scopes  = ["project:read", "feature_groups:write"]
}}

output "ci_key" {{
  value     = granary_api_key.ci.secret
  sensitive = true
}}
"""


def test_apply_shows_no_change_then_updates_in_place_and_destroys(workspace, http, managed, mailbox):
    workspace.write(enterprise("acme"))
    workspace.init()
    changes = workspace.plan_changes()
    assert len(changes) == 4 and all(actions == ["create"] for actions in changes.values()), changes
    workspace.apply()
    assert workspace.plan_changes() == {}

    tenant = http.get("/v1/admin/tenants/acme", headers=ADMIN).json()
    assert tenant["plan"]["quotas"]["projects"] == 3 and tenant["plan"]["sla_tier"] == "premium"
    admin = bearer(workspace.state("granary_tenant.acme")["admin_key"])
    placed = {
        p["name"]: (p["region"], p["standbys"], p["status"])
        for p in http.get("/v1/projects", headers=admin).json()
    }
    assert placed == {"fraud": ("local", ["eu-1"], "ready"), "fraud-eu": ("eu-1", [], "ready")}
    ci_key = workspace.run("output", "-raw", "ci_key").stdout
    assert http.get("/v1/projects/fraud", headers=bearer(ci_key)).status_code == 200
    assert http.get("/v1/projects/fraud-eu", headers=bearer(ci_key)).status_code == 403
    project_scopes = scopes(http, admin)
    provisioned = residue(managed, list(project_scopes.values()))
    assert "nothing" not in provisioned.values(), provisioned  # what destroy must remove
    plan_text = workspace.run("plan", "-input=false").stdout
    assert "No changes" in plan_text and ci_key not in plan_text

    # update in place: quotas, suspension, a member's role, standbys; no replacement
    add_user(http, mailbox, admin, "ds@acme.example.com", MEMBER_PASSWORD)
    workspace.write(enterprise("acme", member="ds@acme.example.com"))
    workspace.apply()
    project_ids = {p["name"]: p["id"] for p in http.get("/v1/projects", headers=admin).json()}
    changed = {"member": "ds@acme.example.com", "projects": 5, "role": "viewer", "standbys": "[]"}
    workspace.write(enterprise("acme", **changed))
    changes = workspace.plan_changes()
    assert changes == {
        "granary_tenant.acme": ["update"],
        "granary_member.ds": ["update"],
        "granary_project.fraud": ["update"],
    }
    workspace.apply()
    assert http.get("/v1/admin/tenants/acme", headers=ADMIN).json()["plan"]["quotas"]["projects"] == 5
    assert http.get("/v1/projects/fraud", headers=admin).json()["standbys"] == []
    members = {m["email"]: m["role"] for m in http.get("/v1/projects/fraud/members", headers=admin).json()}
    assert members == {"admin@acme.example.com": "owner", "ds@acme.example.com": "viewer"}
    assert {p["name"]: p["id"] for p in http.get("/v1/projects", headers=admin).json()} == project_ids
    assert workspace.plan_changes() == {}

    # suspending refuses the tenant's keys, so only the tenant itself can be planned then
    suspended = enterprise("acme", **changed, suspended=True)
    workspace.write(suspended)
    workspace.run("apply", "-auto-approve", "-input=false", "-target=granary_tenant.acme")
    assert http.get("/v1/admin/tenants/acme", headers=ADMIN).json()["status"] == "suspended"
    refused = workspace.run("plan", "-input=false", check=False)
    assert refused.returncode == 1 and 'reading project "fraud" failed' in said(refused), said(refused)
    workspace.write(enterprise("acme", **changed))
    workspace.run("apply", "-auto-approve", "-input=false", "-target=granary_tenant.acme")
    assert http.get("/v1/admin/tenants/acme", headers=ADMIN).json()["status"] == "active"
    assert workspace.plan_changes() == {}

    # a region change cannot happen in place: the plan says it replaces the project
    workspace.write(enterprise("acme", **changed, eu_region="local"))
    assert workspace.plan_changes() == {"granary_project.fraud_eu": ["delete", "create"]}

    workspace.write(enterprise("acme", **changed))
    workspace.destroy()
    assert_nothing_left(managed, "acme", [admin, bearer(ci_key)], list(project_scopes.values()))
    print(f"tofu runs={workspace.runs}")


def test_changes_made_out_of_band_show_in_the_plan_and_apply_restores_them(workspace, http, managed, mailbox):
    workspace.write(enterprise("drift", member="ds@drift.example.com"))
    workspace.init()
    workspace.run("apply", "-auto-approve", "-target=granary_tenant.acme")
    admin = bearer(workspace.state("granary_tenant.acme")["admin_key"])
    add_user(http, mailbox, admin, "ds@drift.example.com", MEMBER_PASSWORD)
    workspace.apply()
    key_id = workspace.state("granary_api_key.ci")["id"]
    deleted_out_of_band = scopes(http, admin)["fraud-eu"]

    http.patch("/v1/admin/tenants/drift", json={"quotas": {"projects": 9}}, headers=ADMIN).raise_for_status()
    http.post("/v1/admin/tenants/drift/suspend", headers=ADMIN).raise_for_status()
    http.post("/v1/admin/tenants/drift/resume", headers=ADMIN).raise_for_status()
    http.put(
        "/v1/projects/fraud/members/ds@drift.example.com", json={"role": "data_owner"}, headers=admin
    ).raise_for_status()
    http.delete(f"/v1/keys/{key_id}", headers=admin).raise_for_status()
    assert http.delete("/v1/projects/fraud-eu", headers=admin).status_code == 202
    managed.cp.settle()  # the control plane's delete reaches the region
    assert residue(managed, [deleted_out_of_band]) == {deleted_out_of_band: "nothing"}

    changes = workspace.plan_changes()
    assert changes == {
        "granary_tenant.acme": ["update"],
        "granary_member.ds": ["update"],
        "granary_api_key.ci": ["create"],
        "granary_project.fraud_eu": ["create"],
    }, changes
    workspace.apply()
    assert workspace.plan_changes() == {}
    assert http.get("/v1/admin/tenants/drift", headers=ADMIN).json()["plan"]["quotas"]["projects"] == 3
    assert http.get("/v1/projects/fraud-eu", headers=admin).json()["status"] == "ready"
    assert workspace.state("granary_api_key.ci")["id"] != key_id
    project_scopes = list(scopes(http, admin).values())
    assert deleted_out_of_band not in project_scopes  # made again, not revived
    workspace.destroy()
    assert_nothing_left(managed, "drift", [admin], project_scopes)


def test_import_adopts_what_exists_and_the_next_plan_changes_nothing_else(workspace, http, managed, mailbox):
    body = make_tenant(
        http, "adopted", projects=3, sla_tier="premium", quotas={"projects": 3, "online_rows": 5000000}
    )
    admin = bearer(body["admin_key"]["api_key"])
    add_user(http, mailbox, admin, "ds@adopted.example.com", MEMBER_PASSWORD)
    fraud = {"name": "fraud", "standbys": ["eu-1"]}  # as the configuration places it
    assert http.post("/v1/projects", json=fraud, headers=admin).status_code == 201
    assert (
        http.post("/v1/projects", json={"name": "fraud-eu", "region": "eu-1"}, headers=admin).status_code
        == 201
    )
    http.put(
        "/v1/projects/fraud/members/ds@adopted.example.com", json={"role": "data_scientist"}, headers=admin
    ).raise_for_status()
    key = http.post(
        "/v1/keys",
        json={"name": "ci-pipeline", "project": "fraud", "scopes": ["project:read", "feature_groups:write"]},
        headers=admin,
    ).json()
    # An imported tenant's admin key is not in the state (the service shows it once): the
    # key comes from outside, still referring to the tenant so destroy deletes it last.
    outside_key = body["admin_key"]["api_key"]
    config = enterprise("adopted", member="ds@adopted.example.com").replace(
        "api_key = granary_tenant.acme.admin_key",
        f'api_key = coalesce(granary_tenant.acme.admin_key, "{outside_key}")',
    )
    workspace.write(config)
    workspace.init()
    for address, import_id in [
        ("granary_tenant.acme", "adopted"),
        ("granary_project.fraud", "fraud"),
        ("granary_project.fraud_eu", "fraud-eu"),
        ("granary_member.ds", "fraud/ds@adopted.example.com"),
        ("granary_api_key.ci", key["key_id"]),
    ]:
        workspace.run("import", "-input=false", address, import_id)
    # The service does not show a tenant's first admin: the import cannot know it, so the
    # plan only records it (no call, nothing replaced).
    assert workspace.plan_changes() == {"granary_tenant.acme": ["update"]}
    workspace.apply()
    assert workspace.plan_changes() == {}
    assert workspace.state("granary_project.fraud_eu")["region"] == "eu-1"
    assert workspace.state("granary_project.fraud")["standbys"] == ["eu-1"]

    workspace.run("state", "rm", "granary_member.ds")
    bad = workspace.run("import", "granary_member.ds", "no-slash", check=False)
    assert bad.returncode == 1 and "expected PROJECT/EMAIL" in said(bad), bad.stderr
    workspace.run("import", "granary_member.ds", "fraud/ds@adopted.example.com")
    project_scopes = list(scopes(http, admin).values())
    workspace.destroy()
    assert_nothing_left(managed, "adopted", [admin, bearer(key["api_key"])], project_scopes)


def test_refusals_name_what_is_wrong_and_change_nothing(workspace, http, managed):
    """Plan-time refusals (the schema) and apply-time ones (the service), each one
    checked to leave the control plane as it was."""
    attempts = refused = 0
    workspace.write(enterprise("Bad Name"))
    workspace.init()
    for config, message in [
        (enterprise("Bad Name"), '"Bad Name" is not a valid name'),
        (enterprise("acme", member="ds@x.example.com", role="admin"), '"admin" is not one of'),
    ]:
        workspace.write(config)
        attempts += 1
        result = workspace.run("plan", "-input=false", check=False)
        refused += result.returncode == 1
        assert message in said(result), result.stderr
    assert http.get("/v1/admin/tenants", headers=ADMIN).json() == []

    # the service refuses at apply: a region outside the plan, then the projects quota
    workspace.write(enterprise("acme", eu_region="mars-1"))
    attempts += 1
    result = workspace.run("apply", "-auto-approve", "-input=false", check=False)
    refused += result.returncode == 1
    assert 'creating project "fraud-eu" failed' in said(result)
    assert "400 invalid_input: project 'fraud-eu': region 'mars-1' is not among tenant 'acme''s" in said(
        result
    )
    admin = bearer(workspace.state("granary_tenant.acme")["admin_key"])
    assert [p["name"] for p in http.get("/v1/projects", headers=admin).json()] == ["fraud"]

    workspace.write(enterprise("acme", projects=1))
    attempts += 1
    result = workspace.run("apply", "-auto-approve", "-input=false", check=False)
    refused += result.returncode == 1
    assert "403 quota_exceeded: tenant 'acme': quota 'projects' exceeded: limit 1, current use 1" in said(
        result
    )
    assert [p["name"] for p in http.get("/v1/projects", headers=admin).json()] == ["fraud"]

    # a wrong operator token: the call and the status are named
    workspace.env["GRANARY_ADMIN_TOKEN"] = "wrong-" + "t" * 30
    attempts += 1
    result = workspace.run("plan", "-input=false", check=False)
    refused += result.returncode == 1
    assert 'reading tenant "acme" failed' in said(result) and "GET /v1/admin/tenants/acme: 401" in said(
        result
    )
    workspace.env["GRANARY_ADMIN_TOKEN"] = ADMIN_TOKEN
    project_scopes = list(scopes(http, admin).values())
    workspace.destroy()
    assert_nothing_left(managed, "acme", [admin], project_scopes)
    print(f"attempts={attempts} refused={refused}")
    assert refused == attempts


def test_the_enterprise_example_applies_plans_no_change_and_destroys(workspace, http, managed, mailbox):
    example = tofu.REPO / "terraform" / "examples" / "enterprise" / "main.tf"
    workspace.write(example.read_text())
    workspace.init()
    regions = ["-var", 'regions=["local", "eu-1"]']
    workspace.run("apply", "-auto-approve", "-input=false", *regions, "-target=granary_tenant.this")
    admin = bearer(workspace.state("granary_tenant.this")["admin_key"])
    add_user(http, mailbox, admin, "ds@acme.example.com", MEMBER_PASSWORD)
    members = ["-var", 'members={"ds@acme.example.com": {project = "fraud-eval", role = "data_scientist"}}']
    workspace.run("apply", "-auto-approve", "-input=false", *regions, *members)
    plan = workspace.run("plan", "-input=false", "-detailed-exitcode", *regions, *members, check=False)
    assert plan.returncode == 0, plan.stdout  # 0: no change
    assert workspace.run("output", "-raw", "fraud_region").stdout == "local"
    assert workspace.run("output", "-json", "allowed_regions").stdout.strip() == '["eu-1","local"]'
    projects = {p["name"]: p["region"] for p in http.get("/v1/projects", headers=admin).json()}
    assert projects == {"fraud": "local", "fraud-eval": "eu-1"}
    keys = [k["name"] for k in http.get("/v1/keys", headers=admin).json() if k["revoked_at"] is None]
    assert sorted(keys) == ["admin", "ci-fraud", "ci-fraud-eval"]
    project_scopes = scopes(http, admin)
    for name, scope in project_scopes.items():  # the group, in the project's data plane
        dp = f"{managed.plane.api_url}/api/v1/projects/{scope}/feature-groups/transactions"
        group = http.get(dp, params={"version": 1}, headers=admin)
        assert group.status_code == 200, (name, group.text)
        features = [(f["name"], f["type"]) for f in group.json()["features"]]
        assert features == [("cc_num", "int64"), ("ts", "timestamp[us, tz=UTC]"), ("amount", "double")]
    ci_keys = json.loads(workspace.run("output", "-json", "ci_keys").stdout).values()
    workspace.run("destroy", "-auto-approve", "-input=false", *regions, *members)
    credentials = [admin, *map(bearer, ci_keys)]
    assert_nothing_left(managed, "acme", credentials, list(project_scopes.values()))


def test_the_checked_in_reference_is_what_the_provider_schema_says(workspace, tmp_path):
    """terraform/docs is rendered from the built provider's schema: regenerate it with
    ``bash ops/terraform.sh docs``."""
    spec = importlib.util.spec_from_file_location("terraform_docs", tofu.REPO / "ops" / "terraform_docs.py")
    docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(docs)
    workspace.write(
        'terraform {\n  required_providers {\n    granary = { source = "granary/granary" }\n  }\n}\n'
    )
    workspace.init()
    pages = docs.render(json.loads(workspace.run("providers", "schema", "-json").stdout))
    checked_in = tofu.REPO / "terraform" / "docs"
    on_disk = {str(p.relative_to(checked_in)): p.read_text() for p in checked_in.rglob("*.md")}
    assert on_disk == pages
