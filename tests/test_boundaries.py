"""The core knows no protocol: only drivers may import protocol libraries."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "openbms"
PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"
PROTOCOL_LIBRARIES = {"bacpypes3", "pymodbus", "aiomqtt", "paho", "BAC0"}
CORE = ("model", "config", "runtime", "historian", "db", "control", "alarms", "api", "analytics", "service")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_core_packages_import_no_protocol_library():
    offenders = []
    for package in CORE:
        for path in (SRC / package).rglob("*.py") if (SRC / package).exists() else ():
            bad = imported_modules(path) & PROTOCOL_LIBRARIES
            if bad:
                offenders.append(f"{path.relative_to(SRC)} imports {', '.join(sorted(bad))}")
    assert offenders == []


def test_the_model_does_no_io():
    for path in (SRC / "model").rglob("*.py"):
        used = imported_modules(path)
        assert not used & {"sqlite3", "sqlalchemy", "socket", "asyncio", "httpx", "yaml"}, path


def test_the_boundary_check_sees_a_violation(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("import bacpypes3.apdu\nfrom pymodbus.client import X\n")
    assert imported_modules(bad) & PROTOCOL_LIBRARIES == {"bacpypes3", "pymodbus"}


def _lint_imports(root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the package under ``root`` with the project's contracts (pyproject.toml)."""
    config = tmp_path / "importlinter.toml"
    config.write_text(PYPROJECT.read_text())
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", str(config)],
        cwd=root, env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True, text=True, timeout=300,
    )


def test_the_layers_hold(tmp_path):
    """ARCHITECTURE.md's layer order: a module imports only from the layers below it."""
    result = _lint_imports(SRC.parent, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_the_layer_check_fails_on_a_wrong_import(tmp_path):
    """The model importing the API (the runtime a driver, a route SQLAlchemy) breaks a contract, by name."""
    copy = tmp_path / "src"
    shutil.copytree(SRC, copy / "openbms", ignore=shutil.ignore_patterns("__pycache__", "web_static"))
    with (copy / "openbms" / "model" / "units.py").open("a") as f:
        f.write("\nfrom openbms.api import app as _wrong  # noqa\n")
    with (copy / "openbms" / "runtime" / "bus.py").open("a") as f:
        f.write("\nimport openbms.drivers.manager as _wrong  # noqa\n")
    with (copy / "openbms" / "api" / "errors.py").open("a") as f:
        f.write("\nimport openbms.drivers.bacnet as _wrong  # noqa\n")
    with (copy / "openbms" / "api" / "routes" / "health.py").open("a") as f:
        f.write("\nimport sqlalchemy.exc as _wrong_sql  # noqa\n")
    result = _lint_imports(copy, tmp_path)
    assert result.returncode != 0
    assert "openbms.model is not allowed to import openbms.api" in result.stdout
    assert "openbms.runtime is not allowed to import openbms.drivers" in result.stdout
    assert "openbms.api is not allowed to import openbms.drivers" in result.stdout
    assert "openbms.api is not allowed to import sqlalchemy" in result.stdout
    assert "openbms.api.routes.health -> sqlalchemy" in result.stdout
