"""``granary signup|verify|login|accept-invitation|user|project|key|region``: the managed
service from a terminal.

The host comes from ``--host``, ``$GRANARY_CONTROL_PLANE`` or the saved credentials; the API
key from ``--api-key``, ``$GRANARY_CONTROL_PLANE_KEY`` or the credentials ``granary login``
saved in ``$GRANARY_CREDENTIALS`` (default ``~/.config/granary/credentials.json``,
mode 0600). Passwords come from ``$GRANARY_PASSWORD`` or a prompt, never argv.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
from pathlib import Path

from rich.console import Console
from rich.table import Table

from granary.cloud import DEFAULT_HOST, ControlPlaneClient
from granary_core.errors import InvalidInput, Unauthenticated

console = Console()


def credentials_path() -> Path:
    return Path(
        os.environ.get("GRANARY_CREDENTIALS") or Path.home() / ".config" / "granary" / "credentials.json"
    )


def _saved() -> dict:
    path = credentials_path()
    return json.loads(path.read_text()) if path.exists() else {}


def _save(host: str, api_key: str, email: str) -> Path:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"host": host, "api_key": api_key, "email": email}, f)
    return path


def _host(args: argparse.Namespace) -> str:
    return args.host or os.environ.get("GRANARY_CONTROL_PLANE") or _saved().get("host") or DEFAULT_HOST


def _client(args: argparse.Namespace, *, authenticated: bool = True) -> ControlPlaneClient:
    key = None
    if authenticated:
        key = args.api_key or os.environ.get("GRANARY_CONTROL_PLANE_KEY") or _saved().get("api_key")
        if not key:
            raise Unauthenticated("no API key: run `granary login`, or set GRANARY_CONTROL_PLANE_KEY")
    return ControlPlaneClient(_host(args), key)


def _password(prompt: str = "Password: ") -> str:
    return os.environ.get("GRANARY_PASSWORD") or getpass.getpass(prompt)


def _signup(args: argparse.Namespace) -> None:
    with _client(args, authenticated=False) as cp:
        cp.signup(args.email, _password())
    console.print(f"Check the inbox of {args.email} and run [bold]granary verify TOKEN[/].")


def _token(args: argparse.Namespace) -> str:
    token = args.token_option or args.token
    if not token:
        raise InvalidInput("give the TOKEN from the mail: --token TOKEN")
    return token


def _verify(args: argparse.Namespace) -> None:
    token = _token(args)
    with _client(args, authenticated=False) as cp:
        result = cp.verify(token, _password("Password chosen at sign-up: "))
    console.print(f"{result['email']} verified (tenant {result['tenant']}). Now run [bold]granary login[/].")


def _accept_invitation(args: argparse.Namespace) -> None:
    token = _token(args)
    with _client(args, authenticated=False) as cp:
        result = cp.accept_invitation(token, _password("Choose a password: "))
    console.print(f"{result['email']} joined tenant {result['tenant']}. Now run [bold]granary login[/].")


def _password_reset(args: argparse.Namespace) -> None:
    with _client(args, authenticated=False) as cp:
        if args.token:
            result = cp.reset_password(args.token, _password("New password: "))
            revoked = result["revoked_keys"]
            console.print(f"Password changed; {revoked} API key(s) revoked. Run [bold]granary login[/].")
            return
        if not args.email:
            raise InvalidInput("give the account's EMAIL, or --token TOKEN from the reset mail")
        cp.request_password_reset(args.email)
    console.print(
        f"If {args.email} has an account, a reset token is on its way; then run "
        "[bold]granary password-reset --token TOKEN[/]."
    )


def _login(args: argparse.Namespace) -> None:
    host = _host(args)
    with ControlPlaneClient(host) as cp:
        result = cp.login(args.email, _password())
    path = _save(host, result["api_key"], result["email"])
    console.print(
        f"Logged in to tenant {result['tenant']} as {result['email']}; key {result['key_id']} saved in {path}"
    )


def _project_create(args: argparse.Namespace) -> None:
    with _client(args) as cp:
        p = cp.create_project(args.name)
    console.print(f"project {p['name']} created in region {p['region']} (id {p['id']})")


def _project_list(args: argparse.Namespace) -> None:
    with _client(args) as cp:
        projects = cp.list_projects()
    table = Table("name", "id", "region", "role", "status")
    for p in projects:
        table.add_row(p["name"], p["id"], p["region"], p["role"] or "-", p["status"])
    console.print(table)


def _project_delete(args: argparse.Namespace) -> None:
    with _client(args) as cp:
        cp.delete_project(args.name)
    console.print(f"project {args.name} deleted")


def _user_invite(args: argparse.Namespace) -> None:
    with _client(args) as cp:
        invitation = cp.invite_user(args.email, is_tenant_admin=args.admin)
    console.print(
        f"Invitation to tenant {invitation['tenant']} mailed to {args.email}; its owner joins with "
        "[bold]granary accept-invitation --token TOKEN[/]."
    )


def _key_create(args: argparse.Namespace) -> None:
    with _client(args) as cp:
        k = cp.create_key(args.name, args.project, args.scope or ["*"])
    console.print("New API key (shown once, store it now):")
    print(k["api_key"])
    console.print(f"key id {k['key_id']}, project {k['project'] or 'all'}, scopes {', '.join(k['scopes'])}")


def _key_list(args: argparse.Namespace) -> None:
    with _client(args) as cp:
        keys = cp.list_keys()
    table = Table("key id", "name", "project", "scopes", "revoked")
    for k in keys:
        table.add_row(
            k["key_id"],
            k["name"],
            k["project"] or "all",
            ", ".join(k["scopes"]),
            "yes" if k["revoked_at"] else "",
        )
    console.print(table)


def _key_revoke(args: argparse.Namespace) -> None:
    with _client(args) as cp:
        cp.revoke_key(args.key_id)
    console.print(f"key {args.key_id} revoked")


def _region_move(args: argparse.Namespace) -> None:
    with _client(args) as cp:
        answer = cp.move_tenant(args.tenant, args.action, args.from_region, args.to_region, args.timeout)
    table = Table("project", "from", "to", "epoch", "drain ms", "catch-up ms", "writes refused ms", "lag ms")
    for m in answer["moved"]:
        table.add_row(
            m["project"],
            m["from_region"],
            m["to_region"],
            str(m["epoch"]),
            f"{m['drain_ms']:.0f}",
            f"{m['catch_up_ms']:.0f}",
            f"{m['writes_refused_ms']:.0f}",
            "-" if m["lag_ms"] is None else f"{m['lag_ms']:.0f}",
        )
    console.print(table)
    console.print(
        f"{args.action}: {len(answer['moved'])} project(s) of {args.tenant} now written in {args.to_region}"
    )
    if args.action == "failover":
        for m in answer["moved"]:
            copied = [ms for ms in (m["copied_until_ms"] or {}).values() if ms is not None]
            if copied:
                until = dt.datetime.fromtimestamp(min(copied) / 1000, dt.UTC)
                until = until.isoformat(timespec="milliseconds")
                console.print(f"{m['project']}: feature rows copied until {until}; later ones may be lost")
        console.print(
            f"catalog writes {args.from_region} made in the last 'lag ms' before it was lost may be lost; "
            f"it is fenced the moment it answers again (then: granary region failback {args.from_region})"
        )


def _region_list(args: argparse.Namespace) -> None:
    with _client(args) as cp:
        regions = cp.regions()
    table = Table("region", "url", "reachable", "projects", "unfenced", "catalog lag")
    for r in regions:
        lag = ", ".join(f"{src} {ms:.0f} ms" for src, ms in sorted(r["catalog_lag_ms"].items())) or "-"
        table.add_row(
            r["name"],
            r["url"],
            "yes" if r["reachable"] else "NO",
            str(r["projects"]),
            str(r["pending_fences"]),
            lag,
        )
    console.print(table)
    for r in regions:
        if r["error"]:
            console.print(f"{r['name']}: {r['error']}")


def _region_status(args: argparse.Namespace) -> None:
    with _client(args) as cp:
        routing = cp.tenant_routing(args.tenant)
    table = Table("project", "region", "epoch", "status", "not yet fenced in")
    for p in routing["projects"]:
        table.add_row(
            p["project"], p["region"], str(p["epoch"]), p["status"], ", ".join(p["unfenced_regions"])
        )
    console.print(table)


def _region_failback(args: argparse.Namespace) -> None:
    with _client(args) as cp:
        answer = cp.failback(args.region)
    table = Table("tenant", "project", "written in", "epoch", "was still writing under")
    for f in answer["fenced"]:
        old = "-" if f["fenced_epoch"] is None else str(f["fenced_epoch"])
        table.add_row(f["tenant"], f["project"], f["region"], str(f["epoch"]), old)
    console.print(table)
    console.print(f"{args.region}: fenced {len(answer['fenced'])} project(s); it is a standby of them now")
    console.print(f"next: {answer['next_step']}")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add the managed-service commands to the ``granary`` parser."""

    def cmd(parent, name: str, help: str, run) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help)
        p.add_argument(
            "--host", help=f"control plane URL (default: $GRANARY_CONTROL_PLANE or {DEFAULT_HOST})"
        )
        p.add_argument(
            "--api-key", help="default: $GRANARY_CONTROL_PLANE_KEY or the key `granary login` saved"
        )
        p.set_defaults(run=run)
        return p

    cmd(commands, "signup", "sign up for a free sandbox", _signup).add_argument("email")
    for name, help, run in (
        ("verify", "verify your email with the mailed token", _verify),
        ("accept-invitation", "join a tenant with the mailed invitation token", _accept_invitation),
    ):
        p = cmd(commands, name, help, run)
        p.add_argument("token", nargs="?", help="the token from the mail (or --token)")
        p.add_argument("--token", dest="token_option", metavar="TOKEN", help="the token from the mail")
    cmd(commands, "login", "log in and save an API key", _login).add_argument("email")
    reset = cmd(commands, "password-reset", "mail a reset token, then set a new password", _password_reset)
    reset.add_argument("email", nargs="?")
    reset.add_argument("--token", help="the token from the reset mail: asks for the new password")

    project = commands.add_parser("project", help="projects in the managed service")
    actions = project.add_subparsers(dest="action", required=True)
    cmd(actions, "create", "create a project", _project_create).add_argument("name")
    cmd(actions, "list", "list your projects", _project_list)
    cmd(actions, "delete", "delete a project and all its data", _project_delete).add_argument("name")

    user = commands.add_parser("user", help="users of your tenant (tenant admins)")
    actions = user.add_subparsers(dest="action", required=True)
    invite = cmd(actions, "invite", "mail an address an invitation to your tenant", _user_invite)
    invite.add_argument("email")
    invite.add_argument("--admin", action="store_true", help="make the new user a tenant admin")

    key = commands.add_parser("key", help="API keys")
    actions = key.add_subparsers(dest="action", required=True)
    create = cmd(actions, "create", "create an API key (shown once)", _key_create)
    create.add_argument("--name", default="")
    create.add_argument("--project", help="bind the key to one project")
    create.add_argument("--scope", action="append", help="repeatable; default '*'")
    cmd(actions, "list", "list your API keys", _key_list)
    cmd(actions, "revoke", "revoke an API key", _key_revoke).add_argument("key_id")

    region = commands.add_parser("region", help="regions and a tenant's routing (operators: the admin token)")
    actions = region.add_subparsers(dest="action", required=True)
    cmd(actions, "list", "every region: reachable, catalog lag, projects, fences pending", _region_list)
    cmd(actions, "status", "where each project of a tenant is written", _region_status).add_argument("tenant")
    back = cmd(actions, "failback", "a region a failover left is back: fence it now", _region_failback)
    back.add_argument("region")
    for name, help in (
        ("switchover", "planned move: drain, catch up, raise the epoch; loses no acknowledged write"),
        ("failover", "the old region is gone: the new one takes the writes under the next epoch"),
    ):
        move = cmd(actions, name, help + " (--api-key: the admin token)", _region_move)
        move.add_argument("tenant")
        move.add_argument("--from", dest="from_region", required=True, help="the region they are homed in")
        move.add_argument("--to", dest="to_region", required=True, help="the region that takes them")
        move.add_argument("--timeout", type=float, default=60.0, help="longest catch-up wait, seconds")
