"""The README's managed-service walkthrough as a new user meets it: the `granary` command
on PATH, the commands in the mail working as printed, a region of any name, and the
same health paths on both planes."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from control_plane.settings import ControlPlaneSettings, Limits, RegionSettings
from granary.cli import main
from tests.control_plane.conftest import ADMIN_TOKEN, REGION_ADMIN_TOKEN, REGION_TOKEN, bearer, token_from

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "a long sandbox password"
LOOSE = Limits(per_address_client=10, per_address=10, per_client=10000, overall=10000, window_seconds=3600)


def shell_blocks(markdown: str) -> list[list[str]]:
    return [block.splitlines() for block in re.findall(r"```bash\n(.*?)```", markdown, flags=re.S)]


@pytest.mark.parametrize("readme", ["README.md", "control_plane/README.md"])
def test_every_granary_command_of_the_readmes_is_on_path(readme):
    """A block of shell that runs `granary` first puts .venv/bin on PATH (or calls it there);
    a fresh shell has no `granary` otherwise."""
    text = (REPO / readme).read_text()
    on_path = False
    checked = 0
    for block in shell_blocks(text):
        for line in block:
            command = line.split("#")[0].strip()
            if command.startswith("source .venv/bin/activate"):
                on_path = True
            if command.startswith("granary "):
                checked += 1
                assert on_path, f"{readme}: `{command}` runs before `source .venv/bin/activate`"
    print(f"\n{readme}: granary commands checked={checked}")
    assert checked >= 3


def test_both_readmes_name_the_sandbox_region_setting():
    for readme in ("README.md", "control_plane/README.md"):
        assert "GRANARY_CP_SANDBOX_REGION" in (REPO / readme).read_text(), readme


@pytest.fixture
def cli(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("GRANARY_CREDENTIALS", str(tmp_path / "credentials.json"))
    monkeypatch.setenv("GRANARY_PASSWORD", PASSWORD)

    def run(url: str, argv: list[str]) -> tuple[int, str]:
        monkeypatch.setenv("GRANARY_CONTROL_PLANE", url)
        code = main(argv)
        return code, " ".join(capsys.readouterr().out.split())

    return run


def test_the_command_in_the_mail_works_as_printed(serve, mailbox, cli):
    server = serve()
    before = mailbox.count()
    with httpx.Client(base_url=server.url) as http:
        assert (
            http.post("/v1/signup", json={"email": "new@example.com", "password": PASSWORD}).status_code
            == 202
        )
    mail = mailbox.wait_for("new@example.com", after=before)
    raw = mail.get_payload()  # as it travelled, before any decoding
    encoding = mail["Content-Transfer-Encoding"]
    line = next(x.strip() for x in raw.splitlines() if x.strip().startswith("granary verify"))
    code, out = cli(server.url, shlex.split(line)[1:])
    print(f"\nmail encoding={encoding}; command={line[:40]}...; exit={code}")
    assert encoding == "7bit" and "=\n" not in raw and "=3D" not in raw
    assert code == 0 and "verified" in out


def test_mailed_tokens_never_read_as_options(serve, mailbox, cli):
    """A token starting with '-' broke `granary verify TOKEN` (one draw in 64)."""
    server = serve(signup_limits=LOOSE)
    tokens = []
    with httpx.Client(base_url=server.url) as http:
        for n in range(200):
            before = mailbox.count()
            r = http.post("/v1/signup", json={"email": f"u{n}@example.com", "password": PASSWORD})
            assert r.status_code == 202, r.text
            tokens.append(token_from(mailbox.wait_for(f"u{n}@example.com", after=before)))
    dashed = [t for t in tokens if t.startswith("-")]
    print(f"\ntokens drawn={len(tokens)} starting with '-'={len(dashed)}")
    # both forms of the command take any token
    positional = cli(server.url, ["verify", tokens[0]])
    option = cli(server.url, ["verify", "--token", tokens[1]])
    print(f"exits: positional {positional[0]}, --token {option[0]}")
    assert not dashed and positional[0] == 0 and option[0] == 0


def test_sandboxes_live_in_the_only_region_whatever_its_name(serve, mailbox):
    dev = RegionSettings(url="http://127.0.0.1:8600", token=REGION_ADMIN_TOKEN)
    server = serve(regions={"dev": dev}, sandbox_region="")
    with httpx.Client(base_url=server.url) as http:
        before = mailbox.count()
        http.post("/v1/signup", json={"email": "dev@example.com", "password": PASSWORD})
        token = token_from(mailbox.wait_for("dev@example.com", after=before))
        http.post("/v1/verify", json={"token": token, "password": PASSWORD})
        key = bearer(
            http.post("/v1/login", json={"email": "dev@example.com", "password": PASSWORD}).json()["api_key"]
        )
        r = http.post("/v1/projects", json={"name": "fraud"}, headers=key)
    print(f"\nproject in a region named 'dev': {r.status_code}")
    assert r.status_code == 201, r.text
    assert r.json()["region"] == "dev"


def test_an_unknown_sandbox_region_stops_the_service_at_start():
    common = {"database_url": "postgresql://x", "redis_url": "redis://x", "admin_token": ADMIN_TOKEN}
    region = RegionSettings(url="http://127.0.0.1:8600", token=REGION_ADMIN_TOKEN)
    two = {"a": region, "b": region}
    with pytest.raises(ValidationError, match="GRANARY_CP_SANDBOX_REGION"):
        ControlPlaneSettings(**common, region_token=REGION_TOKEN, regions=two)
    settings = ControlPlaneSettings(**common, region_token=REGION_TOKEN, regions=two, sandbox_region="b")
    assert settings.sandbox_region == "b"


def test_both_planes_answer_the_same_health_paths(live_server):
    data_plane = json.loads((REPO / "data_plane/api/openapi.json").read_text())["paths"]
    answers = {path: httpx.get(f"{live_server.url}{path}") for path in ("/health", "/healthz")}
    print(f"\ncontrol plane: { {p: r.status_code for p, r in answers.items()} }")
    assert {"/health", "/healthz"} <= set(data_plane)
    assert all(r.status_code == 200 for r in answers.values())
    assert answers["/healthz"].json() == {"status": "ok"}
    assert set(answers["/health"].json()["dependencies"]) == {"postgres", "redis"}
