"""`openbms check` asks a driver whether it could read each of its bindings (MQTT: its payload
options and the site's decoders), so a binding the runtime would fault is found before it runs."""

from __future__ import annotations

from typer.testing import CliRunner

from openbms.cli.main import app

SITE = """\
site: {id: s, name: S, timezone: UTC}
drivers:
  mqtt:
    host: 127.0.0.1
equipment:
- id: e
  type: other
  points:
  - {name: t, unit: degC, tags: [temp, sensor], binding: "%s"}
"""


def test_a_binding_the_mqtt_driver_could_not_read_is_a_problem_at_its_place(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(SITE % "mqtt://sensors/zone-3/env?payload=xml")
    result = CliRunner().invoke(app, ["check", str(path)], env={"COLUMNS": "300"})
    assert result.exit_code == 1
    assert f"{path}:9:58: mqtt://sensors/zone-3/env?payload=xml: payload='xml'; expected one " \
           "of plain, json, sparkplug" in result.output


def test_a_binding_it_can_read_passes(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(SITE % "mqtt://sensors/zone-3/env?payload=json&field=data.temp")
    result = CliRunner().invoke(app, ["check", str(path)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
