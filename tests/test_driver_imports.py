"""Only the services, the drivers, the CLI and the simulators import a driver (issue 13).

The configuration checks know the binding schemes from the model
(``openbms.model.schemes``); the benchmarks build what they time through the
service layer's ``Assembly``. import-linter's layers allow both imports, so
this test says it by name.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).parents[1] / "src" / "openbms"
ALLOWED = ("service", "drivers", "cli", "sim")
DRIVERS = "openbms.drivers"


def _is_drivers(name: str) -> bool:
    return name == DRIVERS or name.startswith(DRIVERS + ".")


def driver_imports(path: Path, root: Path = SRC) -> list[str]:
    """Every ``line: name`` in ``path`` (under the package ``root``) that imports a driver module.

    Relative imports are resolved, and a string naming a driver module (for
    ``importlib.import_module``, or ``"module:factory"``) counts too.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    package = ".".join(path.relative_to(root.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against this module's package
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value.partition(":")[0]]  # "openbms.drivers.x:Factory" strings too
        found += [f"{node.lineno}: {name}" for name in names if _is_drivers(name)][:1]
    return found


def test_only_the_services_drivers_cli_and_simulators_import_a_driver():
    offenders = [f"{path.relative_to(SRC)}:{hit}"
                 for path in sorted(SRC.rglob("*.py"))
                 if path.relative_to(SRC).parts[0] not in ALLOWED
                 for hit in driver_imports(path)]
    assert offenders == []


def test_the_driver_import_check_sees_every_spelling(tmp_path):
    bad = tmp_path / "openbms" / "config" / "x.py"
    bad.parent.mkdir(parents=True)
    bad.write_text("import openbms.drivers\n"
                   "from openbms.drivers.registry import known_drivers\n"
                   "from openbms import drivers\n"
                   "from ..drivers import registry\n"
                   "importlib.import_module('openbms.drivers.bacnet')\n"
                   "from openbms.driverless import x  # not a driver\n"
                   "'''The drivers' registry, openbms.drivers.registry, is not imported here.'''\n")
    assert driver_imports(bad, tmp_path / "openbms") == [
        "1: openbms.drivers", "2: openbms.drivers.registry", "3: openbms.drivers", "4: openbms.drivers",
        "5: openbms.drivers.bacnet"]
