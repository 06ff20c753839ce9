"""``granary signup|verify|login|project|key`` against a real control plane over HTTP."""

from __future__ import annotations

import json
import stat

import pytest

from granary.cli import main
from tests.control_plane.conftest import token_from

EMAIL = "cli-user@example.com"


@pytest.fixture
def cli(live_server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRANARY_CONTROL_PLANE", live_server.url)
    monkeypatch.setenv("GRANARY_CREDENTIALS", str(tmp_path / "credentials.json"))
    monkeypatch.setenv("GRANARY_PASSWORD", "a long sandbox password")
    monkeypatch.delenv("GRANARY_CONTROL_PLANE_KEY", raising=False)

    def run(*argv: str, ok: bool = True) -> str:
        code = main(list(argv))
        out = capsys.readouterr().out
        assert (code == 0) == ok, out
        return out if any(line.startswith("gk_") for line in out.splitlines()) else " ".join(out.split())

    return run


def test_signup_to_project_and_keys_from_the_terminal(cli, mailbox, tmp_path):
    before = mailbox.count()
    assert "Check the inbox" in cli("signup", EMAIL)
    token = token_from(mailbox.wait_for(EMAIL, after=before))
    assert "verified" in cli("verify", "--token", token)
    assert "Logged in" in cli("login", EMAIL)
    creds = tmp_path / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert json.loads(creds.read_text())["api_key"].startswith("gk_")

    assert "created in region local" in cli("project", "create", "fraud")
    assert "fraud" in cli("project", "list")
    out = cli("project", "create", "second", ok=False)  # the free plan allows one project
    assert "quota 'projects' exceeded: limit 1, current use 1" in out

    out = cli("key", "create", "--name", "ci", "--project", "fraud", "--scope", "project:read")
    key = next(line for line in out.splitlines() if line.startswith("gk_"))
    key_id = key.split("_")[1]
    assert key_id in cli("key", "list")
    assert "revoked" in cli("key", "revoke", key_id)
    out = cli("project", "list", "--api-key", key, ok=False)
    assert "unknown or revoked" in out

    assert "deleted" in cli("project", "delete", "fraud")
    assert "fraud" not in cli("project", "list")


def test_invitation_from_the_terminal(cli, mailbox, monkeypatch):
    """The admin invites, the invited address's owner accepts with the mailed command."""
    admin = "cli-admin@example.com"
    before = mailbox.count()
    cli("signup", admin)
    cli("verify", "--token", token_from(mailbox.wait_for(admin, after=before)))
    cli("login", admin)
    before = mailbox.count()
    assert "Invitation to tenant sandbox-" in cli("user", "invite", "colleague@example.com")
    mail = mailbox.wait_for("colleague@example.com", after=before).get_payload(decode=True).decode()
    command = next(line.split() for line in mail.splitlines() if "granary accept-invitation" in line)
    monkeypatch.setenv("GRANARY_PASSWORD", "the colleague's own password")
    assert "joined tenant sandbox-" in cli(*command[1:])
    assert "Logged in" in cli("login", "colleague@example.com")


def test_cli_without_a_key_says_how_to_get_one(cli):
    assert "granary login" in cli("project", "list", ok=False)
