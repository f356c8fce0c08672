"""``openbms user add|list|passwd|disable|enable``: the API's accounts, straight in the state database.

The first admin is made here (or from OPENBMS_ADMIN_EMAIL and
OPENBMS_ADMIN_PASSWORD at start): there is no default password. Passwords are
asked twice, hidden, never taken from the command line where ``ps`` and the
shell history would keep them. A new password or disabling keeps the
account's API tokens unless ``--revoke-tokens`` is given (a disabled account's
tokens are refused until it is enabled again).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import typer
from rich.table import Table

from openbms.cli.common import DirOption, console, data_dir, fail

__all__ = ["register"]


def _engine(directory: Path | None) -> sa.Engine:
    from openbms.db import migrate, open_state

    url = os.environ.get("OPENBMS_DATABASE_URL") or f"sqlite:///{data_dir(directory) / 'state.db'}"
    migrate(url)
    return open_state(url)


def _ask_password(min_length: int = 10) -> str:
    from openbms.db.accounts import AccountError, check_password

    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password, min_length)
    except AccountError as err:
        raise fail(str(err)) from err
    return password


def register(app: typer.Typer) -> None:
    """Add the ``user`` command group."""
    users = typer.Typer(
        help="Accounts of the API: add, list, change a password, disable, enable.", no_args_is_help=True
    )
    app.add_typer(users, name="user")

    @users.command("add")
    def add(
        email: str = typer.Argument(..., help="The e-mail address to log in with."),
        role: str = typer.Option("admin", "--role", help="admin, facility_manager, operator or viewer."),
        sites: list[str] = typer.Option(
            ["*"], "--site", help="A site id to grant the role on ('*': all sites)."
        ),
        name: str = typer.Option("", "--name", help="The person's name."),
        directory: Path = DirOption,
    ) -> None:
        """Create an account with a role on one or more sites (asks for the password twice)."""
        from openbms.api.auth.passwords import Passwords
        from openbms.db import record_audit
        from openbms.db.accounts import (
            AccountError,
            check_role,
            check_site,
            create_user,
            normalize_email,
        )

        try:
            email = normalize_email(email)
            check_role(role)
            for site in sites:
                check_site(site)
        except AccountError as err:
            raise fail(str(err)) from err
        password = _ask_password()
        engine = _engine(directory)
        try:
            row = create_user(
                engine,
                email,
                Passwords().hash(password),
                name=name,
                grants=dict.fromkeys(sites, role),
                by="cli",
            )
            record_audit(
                engine,
                "cli",
                "user.create",
                email,
                {"user_id": row["id"], "grants": dict.fromkeys(sites, role), "via": "openbms user add"},
            )
        except AccountError as err:
            hint = ": use 'openbms user passwd' to change its password" if err.reason == "exists" else ""
            raise fail(f"{err}{hint}") from err
        finally:
            engine.dispose()
        console.print(f"[green]created[/green] {email}: {role} on {', '.join(sites)}")

    @users.command("list")
    def list_(directory: Path = DirOption) -> None:
        """Table of the accounts and their roles."""
        from openbms.db.accounts import list_users

        engine = _engine(directory)
        try:
            rows = list_users(engine, limit=100_000)
        finally:
            engine.dispose()
        table = Table(title=f"{len(rows)} users", title_justify="left")
        for col in ("email", "name", "roles", "state", "last login"):
            table.add_column(col)
        for r in rows:
            roles = ", ".join(f"{role} on {site}" for site, role in sorted(r["grants"].items())) or "—"
            last = (
                datetime.fromtimestamp(r["last_login_at"], UTC).strftime("%Y-%m-%d %H:%M UTC")
                if r["last_login_at"]
                else "never"
            )
            table.add_row(
                r["email"], r["name"], roles, "[red]disabled[/red]" if r["disabled"] else "active", last
            )
        console.print(table)

    @users.command("passwd")
    def passwd(
        email: str = typer.Argument(..., help="The account's e-mail address."),
        revoke_tokens: bool = RevokeTokens,
        directory: Path = DirOption,
    ) -> None:
        """Set an account's password (asks twice); its sessions end, its lockout and failed logins go."""
        from openbms.api.auth.passwords import Passwords
        from openbms.db.accounts import revoke_sessions, update_user

        def change(engine: sa.Engine, row: dict[str, Any], now: float) -> None:
            password = _ask_password()
            update_user(engine, row["id"], password_hash=Passwords().hash(password), now=now)
            revoke_sessions(engine, row["id"], now=now)

        row, details = _change_user(directory, email, "user.password_reset", change, revoke_tokens)
        console.print(f"[green]password changed[/green] for {row['email']}{_revoked(details)}")

    @users.command("disable")
    def disable(
        email: str = typer.Argument(..., help="The account's e-mail address."),
        revoke_tokens: bool = RevokeTokens,
        directory: Path = DirOption,
    ) -> None:
        """Disable an account: it cannot log in, its sessions end, its API tokens are refused."""
        from openbms.db.accounts import update_user

        row, details = _change_user(
            directory, email, "user.disable",
            lambda engine, row, now: update_user(engine, row["id"], disabled=True, now=now), revoke_tokens)
        console.print(f"[yellow]disabled[/yellow] {row['email']}{_revoked(details)}")

    @users.command("enable")
    def enable(
        email: str = typer.Argument(..., help="The account's e-mail address."),
        directory: Path = DirOption,
    ) -> None:
        """Enable a disabled account again (its API tokens not revoked work again)."""
        from openbms.db.accounts import update_user

        row, _details = _change_user(
            directory, email, "user.enable",
            lambda engine, row, now: update_user(engine, row["id"], disabled=False, now=now))
        console.print(f"[green]enabled[/green] {row['email']}")


def _change_user(directory: Path, email: str, action: str,
                 change: Callable[[sa.Engine, dict[str, Any], float], object],
                 revoke_tokens: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Find the account, ``change`` it, revoke its API tokens if asked, and audit ``action``."""
    from openbms.db import record_audit
    from openbms.db.accounts import revoke_api_tokens

    engine = _engine(directory)
    try:
        row = _user(engine, email)
        now = datetime.now(UTC).timestamp()
        change(engine, row, now)
        details: dict[str, Any] = {"user_id": row["id"]}
        if revoke_tokens:
            details["tokens_revoked"] = revoke_api_tokens(engine, row["id"], now=now)
        record_audit(engine, "cli", action, row["email"], details, now=now)
    finally:
        engine.dispose()
    return row, details


RevokeTokens = typer.Option(
    False, "--revoke-tokens", help="Also revoke every API token of the account (kept otherwise)."
)


def _user(engine: sa.Engine, email: str) -> dict[str, Any]:
    from openbms.db.accounts import AccountError, find_user, normalize_email

    try:
        row = find_user(engine, email=normalize_email(email))
    except AccountError as err:
        raise fail(str(err)) from err
    if row is None:
        raise fail(f"no user {email!r}: see 'openbms user list'")
    return row


def _revoked(details: dict[str, Any]) -> str:
    n = details.get("tokens_revoked")
    return "" if n is None else f"; {n} API token(s) revoked"
