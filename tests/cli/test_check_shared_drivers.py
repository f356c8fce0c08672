"""`openbms check` on a folder of sites: one process runs one driver per scheme for all of them, with
the first site's settings, so a later site whose settings differ is warned at its `drivers:` entry."""

from __future__ import annotations

from typer.testing import CliRunner

from openbms.cli.main import app

SITE = """\
site: {id: %s, name: S, timezone: UTC}
drivers:
  modbus:
    timeout: %s
    devices:
      m-%s: {host: 127.0.0.1, port: 1502, unit: 1}
equipment:
- id: e
  type: meter
  points:
  - {name: kw, unit: kW, tags: [power, sensor], binding: "modbus://m-%s/holding/0?type=float32"}
"""


def _check(folder):
    return CliRunner().invoke(app, ["check", str(folder)], env={"COLUMNS": "300"})


def test_a_later_site_whose_driver_settings_differ_is_warned_where_they_are(tmp_path):
    (tmp_path / "a.yaml").write_text(SITE % ("a", 3, "a", "a"))
    (tmp_path / "b.yaml").write_text(SITE % ("b", 5, "b", "b"))
    result = _check(tmp_path)
    assert result.exit_code == 0, result.output  # a warning: only --strict fails on it
    expected = (f"{tmp_path / 'b.yaml'}:4:5: warning: drivers: modbus: differs from site 'a' (the first "
                "with it): one openbms process runs one modbus driver for all its sites")
    assert expected in result.output, result.output
    assert "a.yaml" not in result.output  # the first site's are the ones used
    strict = CliRunner().invoke(app, ["check", "--strict", str(tmp_path)], env={"COLUMNS": "300"})
    assert strict.exit_code == 1


def test_sites_with_the_same_settings_are_not_warned(tmp_path):
    same = SITE.replace("m-%s", "m-1")
    (tmp_path / "a.yaml").write_text(same % ("a", 3))
    (tmp_path / "b.yaml").write_text(same % ("b", 3))
    result = _check(tmp_path)
    assert result.exit_code == 0 and "warning" not in result.output, result.output
