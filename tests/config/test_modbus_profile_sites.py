"""A site file's equipment takes a Modbus device profile's points (``profile: modbus://DEVICE``):
loaded as plain points, and problems of the profile and of the site placed at file:line:column."""

from __future__ import annotations

from typer.testing import CliRunner

import openbms.drivers.registry  # noqa: F401 - registers the Modbus profile expansion, as run and check do
from openbms.cli.main import app
from openbms.config.loader import check_path, load_site

SITE = """\
site: {id: hq}
drivers:
  modbus:
    devices:
      meter-1: {host: 127.0.0.1, unit: 1, profile: energy-meter}
      vfd-1: {host: 127.0.0.1, unit: 2, profile: vfd}
equipment:
  - {id: meter-1, type: meter, profile: "modbus://meter-1"}
"""

BAD_PROFILE = "name: vfd\npoints:\n  - {name: a, table: input, address: 0, type: int32}\n" \
              "  - {name: b, table: input, address: 1}\n"


def test_an_equipment_gets_its_device_profile_points_with_their_bindings(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(SITE)
    site = load_site(path)
    points = site.points()
    assert len(points) > 3 and all(eq.id == "meter-1" for _pid, eq, _p in points)
    assert all(p.binding and p.binding.startswith("modbus://meter-1/") for _pid, _eq, p in points)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output


def test_a_bad_local_profile_is_placed_in_its_own_file(tmp_path):
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "vfd.yaml").write_text(BAD_PROFILE)  # overrides the shipped vfd
    path = tmp_path / "site.yaml"
    path.write_text(SITE + '  - {id: fan-1, type: fan, profile: "modbus://vfd-1"}\n')
    issues = check_path(path)
    assert issues, "overlapping registers must be refused"
    assert any(i.file is not None and str(i.file).endswith("vfd.yaml") and i.line == 4
               for i in issues), [(i.file, i.line, i.message) for i in issues]


def test_an_unknown_profile_or_device_is_placed_in_the_site_file(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(SITE.replace("profile: energy-meter", "profile: nope")
                    + '  - {id: x, profile: "modbus://zzz"}\n')
    issues = check_path(path)
    where = {(i.line, i.message.split(":")[0]) for i in issues}
    assert any(i.line == 5 for i in issues), where  # the device's unknown profile
    assert any(i.line == 9 for i in issues), where  # an equipment naming no such device
