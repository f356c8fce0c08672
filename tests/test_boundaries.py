"""The core knows no protocol: only drivers may import protocol libraries."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "openbms"
PROTOCOL_LIBRARIES = {"bacpypes3", "pymodbus", "aiomqtt", "paho", "BAC0"}
CORE = ("model", "config", "runtime", "historian", "db", "control", "alarms", "api", "analytics")


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
