"""``openbms sim fault list|inject|clear``: the running demo's building faults, through its API.

The faults live in the process that runs the emulator (``openbms demo``), so
these commands ask its API (``/api/v1/emulator/faults``, admins only) rather
than the site folder. They sign in with, in order: ``--token`` (or
``OPENBMS_TOKEN``, an API token of an admin); ``OPENBMS_ADMIN_EMAIL`` and
``OPENBMS_ADMIN_PASSWORD``; the login ``openbms demo`` keeps in
``DIR/data/demo-login`` (``-d``, default ``demo``, as ``openbms demo``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import typer
from rich import box
from rich.table import Table

from openbms.cli.common import console, fail

__all__ = ["fault_app"]

fault_app = typer.Typer(help="Faults of the running demo's building: list, inject, clear (admins).",
                        no_args_is_help=True)

UrlOption = typer.Option(None, "--url", envvar="OPENBMS_URL", show_default=False,
                         help="The demo's address (default http://127.0.0.1:8080, or $OPENBMS_URL).")
TokenOption = typer.Option(None, "--token", envvar="OPENBMS_TOKEN", show_default=False,
                           help="An admin's API token (default: sign in as the demo's admin).")
DemoDirOption = typer.Option(Path("demo"), "--dir", "-d",
                             help="The demo folder, whose data/demo-login has the admin's login.")

_PATH = "/api/v1/emulator/faults"


class _Api:
    """A signed-in client of the demo's API; every refusal becomes a plain-words error."""

    def __init__(self, url: str | None, token: str | None, directory: Path) -> None:
        import httpx

        self.url = (url or "http://127.0.0.1:8080").rstrip("/")
        self.client = httpx.Client(base_url=self.url, timeout=30.0)
        try:
            self.client.headers["Authorization"] = f"Bearer {token or self._sign_in(directory)}"
        except BaseException:
            self.client.close()
            raise

    def _sign_in(self, directory: Path) -> str:
        email, password = os.environ.get("OPENBMS_ADMIN_EMAIL"), os.environ.get("OPENBMS_ADMIN_PASSWORD")
        if not (email and password):
            login = directory / "data" / "demo-login"
            try:
                email, password = login.read_text(encoding="utf-8").split("\n")[:2]
            except (OSError, ValueError):
                raise fail(f"no login to sign in with: give --token (an admin's API token), set "
                           f"OPENBMS_ADMIN_EMAIL and OPENBMS_ADMIN_PASSWORD, or -d the demo folder "
                           f"({login} does not exist)") from None
        r = self.request("POST", "/api/v1/auth/login", json={"email": email, "password": password})
        return str(r.json()["access_token"])

    def request(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        try:
            r = self.client.request(method, path, **kw)
        except httpx.HTTPError as err:
            raise fail(f"cannot reach openbms at {self.url} ({err}): is 'openbms demo' running? "
                       "Give its address with --url") from None
        if r.status_code < 300:
            return r
        try:
            problem = r.json()
        except ValueError:
            problem = {}
        detail = problem.get("detail") or r.reason_phrase
        errors = problem.get("errors") or []
        if errors:
            detail = "; ".join(str(e.get("msg")) for e in errors)
        if r.status_code == 401:
            detail = f"sign-in refused ({detail})"
        elif r.status_code == 403:
            detail = f"this needs an admin ({detail})"
        raise fail(detail)

    def close(self) -> None:
        self.client.close()


def _value(f: dict[str, Any]) -> str:
    if not f["active"]:
        return ""
    if f["parameter"] is None:
        return "active"
    v = f["value"]
    if v is None:
        return "no reading"
    return f"{v:g} {f['unit']}" if f["unit"] else f"{v:g}"


def _takes(f: dict[str, Any]) -> str:
    if f["parameter"] is None:
        return ""
    unit = f" {f['unit']}" if f["unit"] else ""
    default = "none" if f["default"] is None else f"{f['default']:g}"
    if f["kind"] == "failed-sensor":
        return f"{f['parameter']}{unit} (default: none)"
    return f"{f['parameter']} {f['minimum']:g}–{f['maximum']:g}{unit} (default {default})"


@fault_app.command("list")
def list_faults(
    active: bool = typer.Option(False, "--active", help="Only the faults in force."),
    kind: str | None = typer.Option(None, "--kind", help="Only this kind, e.g. chiller-trip."),
    url: str | None = UrlOption, token: str | None = TokenOption, directory: Path = DemoDirOption,
) -> None:
    """The faults the demo's building can have, and which are in force."""
    api = _Api(url, token, directory)
    try:
        body = api.request("GET", _PATH).json()
    finally:
        api.close()
    items = [f for f in body["items"] if (f["active"] or not active) and (kind is None or f["kind"] == kind)]
    table = Table(title=f"{len(items)} faults, {body['active']} active", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("fault", no_wrap=True)
    table.add_column("in force", no_wrap=True)
    table.add_column("what")
    table.add_column("takes")
    for f in items:
        table.add_row(f["id"], f"[red]{_value(f)}[/]" if f["active"] else "", f["label"], _takes(f))
    console.print(table)


@fault_app.command("inject")
def inject(
    fault: str = typer.Argument(..., help="The fault's id, e.g. chiller-trip:ch-1 (see 'list')."),
    value: float | None = typer.Argument(None, help="Its number: a stuck position, a reading, a capacity."),
    url: str | None = UrlOption, token: str | None = TokenOption, directory: Path = DemoDirOption,
) -> None:
    """Inject a fault into the running building (a fault in force takes the new value)."""
    api = _Api(url, token, directory)
    try:
        f = api.request("PUT", f"{_PATH}/{quote(fault, safe='')}", json={"value": value}).json()
    finally:
        api.close()
    console.print(f"[red]injected[/red] {f['id']}: {f['label']}"
                  + (f" ({_value(f)})" if f["parameter"] is not None else ""))


@fault_app.command("clear")
def clear(
    faults: list[str] | None = typer.Argument(None, help="The faults' ids (see 'list --active')."),
    every: bool = typer.Option(False, "--all", help="Clear every fault in force."),
    url: str | None = UrlOption, token: str | None = TokenOption, directory: Path = DemoDirOption,
) -> None:
    """Repair faults of the running building."""
    if bool(faults) == every:
        raise fail("give the faults to clear, or --all", code=2)
    api = _Api(url, token, directory)
    try:
        ids = faults or [f["id"] for f in api.request("GET", _PATH).json()["items"] if f["active"]]
        for fid in ids:
            f = api.request("DELETE", f"{_PATH}/{quote(fid, safe='')}").json()
            console.print(f"[green]cleared[/green] {f['id']}: {f['label']}")
    finally:
        api.close()
    if not ids:
        console.print("no fault is in force")
