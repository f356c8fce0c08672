"""The ``openbms`` command. Each command group lives in its own module with a ``register``."""

from __future__ import annotations

import importlib

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="openbms",
    help="openbms: an open-source building management system.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

def _version(value: bool) -> None:
    if value:
        from openbms import __version__

        typer.echo(f"openbms {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    log_level: str = typer.Option(
        "warning", "--log-level", envvar="OPENBMS_LOG_LEVEL", help="debug, info, warning or error."
    ),
    log_format: str = typer.Option(
        "text", "--log-format", envvar="OPENBMS_LOG_FORMAT", help="text, or json (one object a line)."
    ),
) -> None:
    """openbms: an open-source building management system."""
    from openbms.cli.logs import setup_logging

    setup_logging(log_level, log_format)


#: Modules under openbms.cli that add commands; each defines register(app).
_COMMAND_MODULES = ("check", "site", "run", "data", "backup", "bench", "bacnet", "users", "sim", "mqtt",
                    "modbus", "analytics", "central")

for _name in _COMMAND_MODULES:
    importlib.import_module(f"openbms.cli.{_name}").register(app)


def main() -> None:
    """Entry point of the console script."""
    app()
