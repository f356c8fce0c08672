"""``openbms run``'s runtime starts a site's telemetry bridge (its outbox in the data folder): it
did not, because the runtime built its assembly without the data folder."""

from __future__ import annotations

from openbms.config import load_sites
from openbms.service.runtime import Runtime
from tests.fixtures.waiting import eventually
from tests.integration.test_mqtt_bridge import subscriber

SITE = """\
site: {{id: hq}}
mqtt: {{port: {port}, timeout: 2}}
drivers:
  sim: {{poll_interval: 0.2}}
equipment:
  - id: ahu-1
    points:
      - {{name: sat, unit: degC, binding: "sim://ahu-1/sat?wave=ramp&min=10&max=20&period=60"}}
"""


async def test_openbms_run_publishes_the_site_samples_through_its_bridge(mosquitto, tmp_path):
    (tmp_path / "site.yaml").write_text(SITE.format(port=mosquitto.port))
    rt = Runtime(load_sites(tmp_path), tmp_path / "data")
    async with subscriber(mosquitto) as got:
        await rt.start()
        try:
            await eventually(lambda: len(got.on("openbms/hq/ahu-1/sat")) >= 2,
                             "the runtime's bridge to publish samples")
            bridge = rt.health()["mqtt_bridge_hq"]  # /api/v1/health shows it
            assert bridge["status"] == "ok" and bridge["connected"] is True
        finally:
            await rt.stop()
    first = got.on("openbms/hq/ahu-1/sat")[0]
    assert first["unit"] == "degC" and 10 <= first["value"] <= 20
    assert any((tmp_path / "data").glob("mqtt-outbox*"))  # the outbox in the data folder
