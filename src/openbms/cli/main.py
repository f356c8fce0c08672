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

#: Modules under openbms.cli that add commands; each defines register(app).
_COMMAND_MODULES = ("check", "site", "run", "data", "bench")

for _name in _COMMAND_MODULES:
    importlib.import_module(f"openbms.cli.{_name}").register(app)


def main() -> None:
    """Entry point of the console script."""
    app()
