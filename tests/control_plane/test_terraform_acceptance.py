"""The provider's own Go tests (terraform/provider, terraform-plugin-testing with TF_ACC=1)
against a real control plane and a data plane on the test region, through
``ops/terraform.sh test``: the acceptance tests drive the built OpenTofu; this test makes
the tenant and the project they work in, and counts what passed."""

from __future__ import annotations

import os
import re
import subprocess

import pytest

from tests.control_plane import tofu
from tests.control_plane.test_managed import managed_service


@pytest.fixture(scope="module")
def managed(region_env, cp_postgres, cp_template, cp_redis, smtp_sink):
    with managed_service(region_env, cp_postgres, cp_template, cp_redis, smtp_sink) as service:
        yield service


def test_the_providers_go_tests_pass_acceptance_tests_included(managed, tmp_path):
    tenant = managed.tenant("acc")
    managed.project(tenant["admin"], "fraud")
    env = {
        **os.environ,
        "GRANARY_HOST": managed.cp.url,
        "GRANARY_API_KEY": tenant["admin"]["Authorization"].removeprefix("Bearer "),
        "GRANARY_TEST_PROJECT": "fraud",
        "TF_CLI_CONFIG_FILE": str(tofu.cli_config(tofu.build(), tmp_path)),
    }
    result = subprocess.run(
        ["bash", str(tofu.REPO / "ops" / "terraform.sh"), "test"],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=tofu.REPO,
        env=env,
    )
    output = result.stdout + result.stderr
    outcomes = re.findall(r"^\s*--- (PASS|FAIL|SKIP): (\w+)", output, re.MULTILINE)
    passed = sorted(name for outcome, name in outcomes if outcome == "PASS")
    print(f"\ngo tests: {len(passed)} passed of {len(outcomes)}: {', '.join(passed)}")
    assert result.returncode == 0, output[-6000:]
    assert all(outcome == "PASS" for outcome, _ in outcomes), outcomes
    assert "TestAccFeatureGroup" in passed, output[-3000:]
