"""`openbms check` checks the MQTT driver's own settings (``drivers: mqtt:``) at their place, as
the driver would refuse them when it starts: an unknown key, a wrong type, a bad decoder, a plain
password."""

from __future__ import annotations

from typer.testing import CliRunner

from openbms.cli.main import app

SITE = """\
site: {id: s, name: S, timezone: UTC}
drivers:
  mqtt:
%s
equipment:
- id: e
  type: other
  points:
  - {name: t, unit: degC, tags: [temp, sensor], binding: "mqtt://sensors/zone-3/temp"}
"""


def test_every_bad_mqtt_setting_is_a_problem_at_its_line_and_column(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(SITE % "\n".join([
        "    hots: broker.local",
        "    port: eighteen",
        "    password: hunter2",
        "    timeout: 5",
        "    decoders:",
        "    - {match: sensors/#, payload: json, feild: data.temp}",
    ]))
    result = CliRunner().invoke(app, ["check", str(path)], env={"COLUMNS": "300"})
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith(str(path))]
    assert lines == [
        f"{path}:4:11: drivers: mqtt: unknown setting hots; expected host, port, client_id, "
        "keepalive, qos, max_payload, expect, offline, max_age, reconnect_min, decoders, "
        "username_env, username_file, password_env, password_file, tls, ca_file, cert_file, "
        "key_file (or enabled, poll_interval, timeout, retries, max_backoff)",
        f"{path}:5:11: drivers: mqtt: port: 'eighteen'; expected a whole number",
        f"{path}:6:15: drivers: mqtt: password: secrets are not written in the site file; give "
        "password_env (an environment variable's name) or password_file (a file)",
        f"{path}:9:7: drivers: mqtt: decoders[0]: unknown option(s) feild; expected payload, "
        "field, time, kind, command, expect, offline, device",
    ]


def test_good_mqtt_settings_pass(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(SITE % "\n".join([
        "    host: 127.0.0.1", "    port: 8883", "    tls: true", "    ca_file: ca.pem",
        "    password_env: SITE_MQTT_PASSWORD", "    timeout: 5", "    expect: 60",
        "    decoders:", "    - {match: sensors/#, payload: json, field: data.temp}",
    ]))
    result = CliRunner().invoke(app, ["check", str(path)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
