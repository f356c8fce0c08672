"""Which binding schemes a site file may use: known without importing a driver, plug-ins included."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

SITE = textwrap.dedent("""\
    site: {id: hq}
    equipment:
      - id: ahu-1
        points:
          - {name: sat, binding: 'sim://hq/ahu-1/sat'}
          - {name: knx, binding: 'knx://1.1.5/2/3'}
    """)


def run_child(code: str, tmp_path: Path) -> list[str]:
    """Run ``code`` in a fresh interpreter (nothing imported yet, no plug-in left over); its lines."""
    site = tmp_path / "hq.yaml"
    site.write_text(SITE)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code), str(site)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()


def test_checking_a_site_file_imports_no_driver(tmp_path):
    lines = run_child("""
        import sys
        from openbms.config import check_path, default_drivers

        (issue,) = check_path(sys.argv[1])
        print(issue.line, issue.message.split(" in binding")[0])
        print(",".join(default_drivers()))
        print("imported:", sorted(m for m in sys.modules if m.startswith("openbms.drivers")))
        """, tmp_path)
    assert lines == ["6 unknown driver 'knx'",
                     "bacnet,modbus,mqtt,rest,sim",
                     "imported: []"]


def test_a_plugin_registered_with_the_drivers_registry_is_accepted_by_the_loader(tmp_path):
    lines = run_child("""
        import sys
        from openbms.config import check_path, default_drivers, load_site
        from openbms.drivers.registry import create_driver, known_drivers, register_driver

        print(len(check_path(sys.argv[1])))
        register_driver("knx", lambda settings, clock: ("a knx driver", settings.timeout))
        print(",".join(default_drivers()))
        print(",".join(known_drivers()))
        site = load_site(sys.argv[1])
        print([point.binding for _pid, _equip, point in site.points()])
        from openbms.model import DriverSettings
        from openbms.runtime.clock import WallClock
        print(create_driver("knx", DriverSettings(timeout=5), WallClock()))
        """, tmp_path)
    assert lines == ["1",
                     "bacnet,knx,modbus,mqtt,rest,sim",
                     "bacnet,knx,modbus,mqtt,rest,sim",
                     "['sim://hq/ahu-1/sat', 'knx://1.1.5/2/3']",
                     "('a knx driver', 5.0)"]
