"""A site file with REST thermostat points: ``openbms check`` takes it (and names a bad binding's
or setting's line and column), and the assembly runs it against the emulated vendor service:
samples on the bus, setpoint and mode commands through the arbiter within the point's limits,
the service failing with 5xx (points offline) and back by itself."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.config.loader import load_site
from openbms.errors import CommandError
from openbms.runtime.clock import WallClock
from openbms.service.assembly import Assembly
from openbms.sim.thermostats import Thermostat, ThermostatService, serve_thermostats
from tests.fixtures.waiting import eventually

SITE = """\
site: {{id: hq, timezone: Europe/London}}
drivers:
  rest:
    base_url: {url}
    profile: thermostat
    auth: {{type: oauth2, token_url: /oauth/token, client_id: openbms, client_secret_env: VENDOR_SECRET}}
    timeout: 2
    retries: 0
    http_retries: 1
    backoff: 0.05
    poll_interval: 0.2
    max_backoff: 0.4
    devices:
      thermostat-1: {{id: T-100}}
      thermostat-2: {{id: T-101}}
equipment:
  - id: tstat-1
    type: thermostat
    points:
      - {{name: temp, unit: degC, binding: "rest://thermostat-1/status#temperature"}}
      - {{name: humidity, unit: "%RH", binding: "rest://thermostat-1/status#humidity"}}
      - name: sp
        unit: degC
        writable: true
        limits: {{min: 16, max: 26}}
        binding: "rest://thermostat-1/status#setpoint"
      - name: mode
        kind: enum
        states: ["off", heat, cool, auto]
        writable: true
        binding: "rest://thermostat-1/status?states=off,heat,cool,auto#mode"
  - id: tstat-2
    type: thermostat
    points:
      - {{name: temp, unit: degC, binding: "rest://thermostat-2/status#temperature"}}
"""


@pytest.fixture(autouse=True)
def vendor_secret(monkeypatch):
    monkeypatch.setenv("VENDOR_SECRET", "s3cret")


async def test_a_site_with_rest_points_is_checked_and_runs_through_the_driver_manager(tmp_path):
    service = ThermostatService([Thermostat("T-100", temperature=22.5, setpoint=21.0),
                                 Thermostat("T-101", temperature=19.5)])
    async with serve_thermostats(service) as url:
        path = tmp_path / "site.yaml"
        path.write_text(SITE.format(url=url))
        result = CliRunner().invoke(app, ["check", str(path)])
        assert result.exit_code == 0, result.output
        assembly = Assembly([load_site(path)], WallClock())
        samples = []
        assembly.bus.subscribe_callback("*", samples.extend)
        try:
            await assembly.start_history(None)
            await assembly.start_drivers()
            await assembly.start_arbiter(None)
            manager = assembly.manager
            assert manager is not None

            def latest(point: str):
                got = [s for s in samples if s.point == point]
                return (got[-1].value, got[-1].status) if got else None

            await eventually(lambda: latest("hq/tstat-1/mode") is not None
                             and latest("hq/tstat-2/temp") is not None, "samples on the bus")
            assert latest("hq/tstat-1/temp") == (22.5, "ok")
            assert latest("hq/tstat-1/humidity") == (45.0, "ok")
            assert latest("hq/tstat-1/mode") == (2, "ok")  # heat, the second state
            assert latest("hq/tstat-2/temp") == (19.5, "ok")

            cmd = await assembly.arbiter.command("hq/tstat-1/sp", 23.5, 8, reason="test")
            assert (cmd.status, cmd.error) == ("completed", "")
            cmd = await assembly.arbiter.command("hq/tstat-1/mode", 3, 8, reason="test")
            assert (cmd.status, cmd.error) == ("completed", "")
            assert (service.devices["T-100"].setpoint, service.devices["T-100"].mode) == (23.5, "cool")
            writes = service.count("/setpoint")
            with pytest.raises(CommandError):
                await assembly.arbiter.command("hq/tstat-1/sp", 30, 8, reason="above the limit")
            assert service.count("/setpoint") == writes  # refused before anything was sent
            assert service.devices["T-100"].setpoint == 23.5

            service.fail(None, 503)
            await eventually(lambda: latest("hq/tstat-1/temp") == (None, "offline")
                             and latest("hq/tstat-2/temp") == (None, "offline"), "both offline")
            service.recover()
            await eventually(lambda: latest("hq/tstat-1/temp") == (22.5, "ok")
                             and latest("hq/tstat-2/temp") == (19.5, "ok"), "both back")
            assert manager.health()["rest://thermostat-1"].state == "ok"
        finally:
            await assembly.stop()


BAD = """\
site: {id: hq, timezone: Europe/London}
drivers:
  rest:
    base_url: ftp://vendor
    rate_limit: -1
    auth: {type: oauth2, token_url: /oauth/token, client_id: x, client_secret: plain}
    devices:
      thermostat-1: {id: T-100}
equipment:
  - id: tstat-1
    type: thermostat
    points:
      - {name: temp, binding: "rest://thermostat-1/stats#temperature"}
      - {name: hum, binding: "rest://thermostat-9/status#humidity"}
      - {name: sp, binding: "rest://thermostat-1/status?colour=red#setpoint"}
"""


def test_openbms_check_names_a_bad_rest_binding_or_setting_at_its_line_and_column(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(BAD)
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code != 0
    out = " ".join(result.output.split())
    assert (f"{path}:4:15: drivers: rest: base_url: 'ftp://vendor'; expected the API's address "
            "such as https://api.vendor.example") in out
    assert "site.yaml:5:17: drivers: rest: rate_limit: -1; expected a number from 0 to 10000" in out
    assert ("site.yaml:13:31: binding 'rest://thermostat-1/stats#temperature': no resource 'stats' "
            "in the profile; expected rest://DEVICE/RESOURCE#FIELD with RESOURCE one of status, "
            "schedule") in out
    assert ("site.yaml:14:30: binding 'rest://thermostat-9/status#humidity': no REST device "
            "'thermostat-9'; expected one under drivers: rest: devices: (known: thermostat-1)") in out
    assert ("site.yaml:15:29: binding 'rest://thermostat-1/status?colour=red#setpoint': unknown "
            "option colour; expected states, write, unit") in out
    assert ("site.yaml:6:80: drivers: rest: auth: client_secret: secrets are not written in the "
            "site file") in out
