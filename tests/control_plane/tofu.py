"""Drive a real OpenTofu CLI against the Granary provider, as an air-gapped user would.

``ops/terraform.sh`` builds both (cached); the provider is installed from a filesystem
mirror named in a CLI config file, since no provider registry is reachable.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROVIDER_ADDRESS = "registry.opentofu.org/granary/granary"
PROVIDER_VERSION = "0.1.0"


@dataclass(frozen=True)
class Binaries:
    tofu: Path
    provider: Path


def build() -> Binaries:
    """OpenTofu and the provider, built by ``ops/terraform.sh`` (once; then cached)."""
    result = subprocess.run(
        ["bash", str(REPO / "ops" / "terraform.sh"), "all"],
        capture_output=True,
        text=True,
        timeout=3600,
        cwd=REPO,
    )
    if result.returncode != 0:
        pytest.fail(f"ops/terraform.sh all failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
    tofu, provider = result.stdout.split()[-2:]
    return Binaries(Path(tofu), Path(provider))


def cli_config(binaries: Binaries, root: Path) -> Path:
    """A CLI config whose filesystem mirror holds the provider, and nothing is fetched."""
    host, namespace, name = PROVIDER_ADDRESS.split("/")
    target = root / "mirror" / host / namespace / name / PROVIDER_VERSION / "linux_amd64"
    target.mkdir(parents=True)
    shutil.copy2(binaries.provider, target / f"terraform-provider-{name}_v{PROVIDER_VERSION}")
    config = root / "tofu.rc"
    config.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path = "{root / "mirror"}"\n'
        f'    include = ["{PROVIDER_ADDRESS}"]\n  }}\n'
        f'  direct {{\n    exclude = ["{PROVIDER_ADDRESS}"]\n  }}\n'
        "}\n"
    )
    return config


class Workspace:
    """One configuration directory and its state; ``run`` calls the real CLI in it."""

    def __init__(self, binaries: Binaries, config: Path, directory: Path, env: dict[str, str]) -> None:
        self.tofu, self.dir = binaries.tofu, directory
        self.env = {
            **os.environ,
            "TF_CLI_CONFIG_FILE": str(config),
            "TF_IN_AUTOMATION": "1",
            "CHECKPOINT_DISABLE": "1",
            **env,
        }
        self.runs = 0

    def write(self, main_tf: str) -> None:
        (self.dir / "main.tf").write_text(main_tf)

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        self.runs += 1
        result = subprocess.run(
            [str(self.tofu), *args, "-no-color"],
            cwd=self.dir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"tofu {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def init(self) -> None:
        self.run("init", "-input=false")

    def apply(self) -> None:
        self.run("apply", "-auto-approve", "-input=false")

    def destroy(self) -> None:
        self.run("destroy", "-auto-approve", "-input=false")

    def plan_changes(self) -> dict[str, list[str]]:
        """What a plan would do, by resource address: e.g. ``{"granary_project.a": ["create"]}``
        (resources without changes are left out)."""
        self.run("plan", "-input=false", "-out=plan.bin")
        shown = json.loads(self.run("show", "-json", "plan.bin").stdout)
        return {
            change["address"]: change["change"]["actions"]
            for change in shown.get("resource_changes", [])
            if change["change"]["actions"] != ["no-op"]
        }

    def state(self, address: str) -> dict:
        """The attributes of one resource in the state."""
        shown = json.loads(self.run("show", "-json").stdout)
        for resource in shown["values"]["root_module"]["resources"]:
            if resource["address"] == address:
                return resource["values"]
        raise AssertionError(f"{address} is not in the state")
