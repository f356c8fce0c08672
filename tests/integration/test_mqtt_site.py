"""A site file with MQTT points: ``openbms check`` takes it, and the assembly runs it through the
driver manager, samples on the bus (with the messages' own time), commands published."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.config.loader import load_site
from openbms.control.arbiter import CommandError
from openbms.runtime.clock import WallClock
from openbms.service.assembly import Assembly
from tests.integration.mqtt_helpers import publisher, until

SITE = """\
site: {{id: hq, timezone: Europe/London}}
drivers:
  mqtt:
    host: 127.0.0.1
    port: {port}
    timeout: 2
    poll_interval: 5
    decoders:
      - {{match: "sensors/+/env", payload: json, field: temp, time: ts}}
equipment:
  - id: zone-1
    type: sensor
    points:
      - {{name: temp, unit: degC, binding: "mqtt://sensors/zone-1/env"}}
      - {{name: rh, unit: "%RH", binding: "mqtt://sensors/zone-1/env?field=rh"}}
  - id: ahu-1
    type: ahu
    points:
      - name: sat-sp
        unit: degC
        writable: true
        limits: {{min: 10, max: 18}}
        binding: "mqtt://hvac/ahu-1/sat-sp?command=hvac/ahu-1/sat-sp/set"
"""


async def test_a_site_with_mqtt_points_is_checked_and_runs_through_the_driver_manager(
        mosquitto, tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(SITE.format(port=mosquitto.port))
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 0, result.output
    site = load_site(path)
    assembly = Assembly([site], WallClock())
    samples = []
    assembly.bus.subscribe_callback("*", samples.extend)
    async with publisher(mosquitto) as device:
        await device.subscribe("hvac/ahu-1/sat-sp/set", qos=1)
        commands: list[bytes] = []

        async def echo() -> None:  # the device takes the command and reports its new setpoint
            async for m in device.messages:
                commands.append(m.payload)
                await device.publish("hvac/ahu-1/sat-sp", m.payload)

        task = asyncio.create_task(echo())
        try:
            await assembly.start_history(None)
            await assembly.start_drivers()
            await assembly.start_arbiter(None)
            manager = assembly.manager
            assert manager is not None
            await until(lambda: all(h.subscribed for h in manager.health().values()),
                        what="the manager subscribed every device")
            ts = WallClock().now() - 5
            await device.publish("sensors/zone-1/env", json.dumps({"temp": 21.5, "rh": 40,
                                                                   "ts": ts}))
            await until(lambda: {s.point for s in samples if s.status == "ok"} >=
                        {"hq/zone-1/temp", "hq/zone-1/rh"}, what="samples on the bus")
            temp = [s for s in samples if s.point == "hq/zone-1/temp" and s.status == "ok"]
            assert (temp[0].value, temp[0].ts) == (21.5, ts)  # the message's own time
            rh = [s for s in samples if s.point == "hq/zone-1/rh" and s.status == "ok"]
            assert rh[0].value == 40
            cmd = await assembly.arbiter.command("hq/ahu-1/sat-sp", 16.5, 8, reason="test")
            assert (cmd.status, cmd.error) == ("completed", "")
            assert commands == [b"16.5"]
            try:
                await assembly.arbiter.command("hq/ahu-1/sat-sp", 25, 8)
            except CommandError as err:
                assert "18" in str(err)
            else:
                raise AssertionError("a value above the limit was written")
            assert commands == [b"16.5"]
            health = manager.health()
            assert health["mqtt://sensors"].subscribed
            assert health["mqtt://hvac"].subscribed
        finally:
            task.cancel()
            await assembly.stop()
