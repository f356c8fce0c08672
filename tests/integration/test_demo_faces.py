"""The demo site as `openbms demo` makes it reads the emulator's Modbus devices and REST thermostats:
its copy of the site enables their drivers and takes free ports when the shipped ones are taken,
`openbms check` passes on it, and a running Runtime gets `ok` values from the emulated meters, the
fan's drive and the thermostats (polled, and pushed by the vendor's signed webhooks); the status
line shows a Modbus meter and a REST thermostat."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
from collections.abc import Iterator
from datetime import datetime
from importlib import resources

import pytest
import yaml
from typer.testing import CliRunner

from openbms.api.server import serve
from openbms.cli.main import app
from openbms.cli.run import DemoFaces, _demo_faces, _load, _status_points, _without_driver
from openbms.runtime.clock import ManualClock
from openbms.service.runtime import Runtime
from openbms.sim.building import SEQUENCES, Building
from openbms.sim.building.live import LiveEmulator
from openbms.sim.building.make_demo_site import MODBUS_PORT, THERMOSTATS_PORT
from openbms.sim.building.modbus import ModbusFace
from openbms.sim.building.rest import CLIENT_SECRET_ENV, WEBHOOK_SECRET_ENV, BuildingThermostats
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def _hold(port: int) -> Iterator[None]:
    """Listen on 127.0.0.1:port (if nobody does yet): the demo must find it taken."""
    with socket.socket() as s:
        with contextlib.suppress(OSError):  # taken by someone else already: taken all the same
            s.bind(("127.0.0.1", port))
            s.listen()
        yield


async def test_the_demo_site_reads_the_emulators_modbus_devices_and_rest_thermostats(tmp_path, monkeypatch):
    for name in (CLIENT_SECRET_ENV, WEBHOOK_SECRET_ENV):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "demo"
    with resources.as_file(resources.files("openbms.examples") / "demo") as shipped:
        shutil.copytree(shipped, root)
    with _hold(MODBUS_PORT), _hold(THERMOSTATS_PORT):
        sites, faces = _demo_faces(root, _load(root), created=True)
    assert faces is not None and faces.account is not None
    # Its copy of the site: both drivers on, at the free ports it took (the shipped ones were taken).
    drivers = yaml.safe_load((root / "site.yaml").read_text())["drivers"]
    assert drivers["modbus"]["enabled"] is True and drivers["rest"]["enabled"] is True
    ports = {d["port"] for d in drivers["modbus"]["devices"].values()}
    assert ports == {faces.modbus_port} and faces.modbus_port != MODBUS_PORT
    assert drivers["rest"]["base_url"] == f"http://127.0.0.1:{faces.account.port}"
    assert faces.account.port != THERMOSTATS_PORT
    # The secrets: random, kept in the data folder for the next start (not the site file), and
    # passed to the site's drivers: rest: through the environment.
    secrets = (root / "data" / "demo-thermostats").read_text().split()
    assert (root / "data" / "demo-thermostats").stat().st_mode & 0o777 == 0o600
    assert [faces.account.client_secret, faces.account.webhook_secret.decode()] == secrets
    assert secrets[0] not in (root / "site.yaml").read_text()
    monkeypatch.setenv(CLIENT_SECRET_ENV, secrets[0])  # restored after the test
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, secrets[1])
    check = CliRunner().invoke(app, ["check", str(root)])
    assert check.exit_code == 0 and "ok: 1 site, 40 equipment, 389 points" in check.output, check.output
    assert _status_points(sites)[-2:] == ["demo/elec-meter/kw", "demo/tstat-n1/temp"]

    # The emulator as the demo starts it, without its BACnet devices (fixed addresses; the other
    # demo tests cover them), on a clock the test moves.
    building = Building(start=datetime(2025, 1, 6, 7, 0))
    sequence = SEQUENCES["baseline"]()
    for _ in range(60):
        sequence(building)
        building.step(60)
    clock = ManualClock(building.timestamp)
    account = faces.account
    thermostats = BuildingThermostats(building, client_id=account.client_id,
                                      client_secret=account.client_secret,
                                      webhook_secret=account.webhook_secret, port=account.port)
    emulator = LiveEmulator(building, clock, step=60, sequence=sequence,
                            modbus=ModbusFace(building, port=faces.modbus_port), thermostats=thermostats)
    # Without the building's BACnet points, its control (schedules, programs) would command nothing.
    shutil.rmtree(root / "programs")
    running = [cfg.model_copy(update={"schedules": [], "programs": []})
               for cfg in _without_driver(sites, "bacnet")]
    async with emulator:
        assert emulator.unavailable == {}
        runtime = Runtime(running, root / "data", clock=clock, api=("127.0.0.1", 0), api_front=serve)
        await runtime.start()
        try:
            thermostats.register_webhook(f"{runtime.api.url}/api/v1/sites/demo/webhooks/rest/thermostat")
            wanted = ["demo/elec-meter/kw", "demo/elec-meter/kwh", "demo/gas-meter/kw", "demo/sf-vfd/speed",
                      "demo/sf-vfd/running", "demo/tstat-n1/temp", "demo/tstat-c2/humidity",
                      "demo/tstat-s3/mode"]

            def values() -> bool:
                got = [runtime.cache.get(p) for p in wanted]
                return all(s is not None and s.status == "ok" for s in got)

            for _ in range(300):  # building minutes: a step each, and the polls due
                if values():
                    break
                await clock.advance(60)
                await asyncio.sleep(0.02)  # the HTTP and Modbus answers come in real time
            await eventually(values, "the Modbus and REST points ok")
            kw = runtime.cache.get("demo/elec-meter/kw")
            assert kw is not None and 5 < kw.value < 500
            assert runtime.cache.get("demo/sf-vfd/running").value is True
            assert runtime.cache.get("demo/tstat-s3/mode").value == 2  # heat: the second state
            # The building moves on; the thermostats' changes are pushed by the vendor at once, signed.
            sent = len(thermostats.service.webhooks_sent)
            for _ in range(5):
                await clock.advance(60)
            await thermostats.service.drain()
            pushed = thermostats.service.webhooks_sent[sent:]
            assert pushed and {status for _url, status in pushed} == {200}
            temp = runtime.cache.get("demo/tstat-n1/temp")
            assert temp is not None and temp.value == thermostats.service.devices["T-100"].temperature
            assert temp.value == round(float(building.get("vav-n1/zone-t")), 1)
        finally:
            await runtime.stop()


async def test_when_the_modbus_server_cannot_start_the_demo_says_so_and_runs_without_it(tmp_path, capsys):
    root = tmp_path / "demo"
    with resources.as_file(resources.files("openbms.examples") / "demo") as shipped:
        shutil.copytree(shipped, root)
    sites = _load(root)
    faces = DemoFaces("demo", 0, None)
    building = Building(start=datetime(2025, 1, 6, 7, 0))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        emulator = LiveEmulator(building, ManualClock(building.timestamp), step=60,
                                modbus=ModbusFace(building, port=taken.getsockname()[1]))
        async with emulator:
            enabled = [cfg.model_copy(update={"drivers": {**cfg.drivers, "modbus": cfg.drivers["modbus"]
                                                          .model_copy(update={"enabled": True})}})
                       for cfg in sites]
            running = faces.announce(emulator, enabled)
    assert running[0].drivers["modbus"].enabled is False  # its points get no samples, not offline
    said = " ".join(capsys.readouterr().out.split())
    assert "the emulator's Modbus devices did not start (" in said and "the demo runs without them" in said
    assert "Modbus TCP devices on" not in said
