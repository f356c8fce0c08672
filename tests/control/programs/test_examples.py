"""The example programs on the example site: on sim points, and on simulated BACnet devices."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from openbms.config import load_sites
from openbms.control.arbiter import Arbiter
from openbms.control.programs import (
    ProgramEngine,
    arbiter_write,
    catalog_from_sites,
    example_names,
    load_example,
    validate_program,
)
from openbms.drivers.bacnet import BACnetDriver
from openbms.drivers.manager import DriverManager, PointBinding
from openbms.model import DriverSettings, SiteConfig, parse_binding
from openbms.runtime.bus import Bus
from openbms.runtime.clock import WallClock
from openbms.sim.bacnet import ObjectSpec, SimulatedBACnet
from tests.control.programs.rig import Rig
from tests.fixtures.waiting import eventually

OFFICE = Path(__file__).parents[3] / "src" / "openbms" / "examples" / "office"
OAT, SAT, RAT, FAN = "hq/weather/oat", "hq/ahu-1/sat", "hq/ahu-1/rat", "hq/ahu-1/fan-status"
SAT_SP, CLG, HTG, OAD = "hq/ahu-1/sat-sp", "hq/ahu-1/clg-valve", "hq/ahu-1/htg-valve", "hq/ahu-1/oad-cmd"


@pytest.fixture(scope="module")
def office() -> SiteConfig:
    (cfg,) = load_sites(OFFICE)
    return cfg


def test_every_example_is_valid_on_the_example_site(office):
    assert example_names() == ["ahu", "boiler", "chiller"]
    catalog = catalog_from_sites([office])
    for name in example_names():
        assert validate_program(load_example(name), catalog) == [], name


async def test_the_ahu_program_commands_setpoint_valves_and_damper_on_sim_points(office):
    rig = Rig(office)
    ahu = load_example("ahu")
    rig.engine.load(ahu, 1)
    # 15 °C outdoors, cooler than the return air: economiser on; a warm supply: cooling.
    await rig.publish({OAT: 15.0, SAT: 18.0, RAT: 22.0, FAN: True})
    sp = 16 - 3 * 5 / 11  # the reset: 16 °C at 10 °C outdoors to 13 °C at 21 °C
    assert rig.slot(SAT_SP) == pytest.approx(sp)
    assert rig.device(SAT_SP) == pytest.approx(sp)  # effective mode: the device's own slot
    for point in (CLG, HTG, OAD):  # passthrough: the program's priority reaches the device
        assert rig.device_array(point)[9] == rig.slot(point)
    assert rig.slot(CLG) == pytest.approx(8 * (18 - sp - 0.5))  # P only at the first step
    assert rig.slot(HTG) == 0.0
    damper = rig.slot(OAD)
    assert damper == pytest.approx(10 * (18 - sp))  # above its 20 % minimum
    for _ in range(12):
        await rig.tick(5)
    assert rig.slot(OAD) > damper  # the economiser opens further while the supply stays warm
    await rig.publish({OAT: 25.0})  # warmer than the return air: minimum outdoor air
    assert rig.slot(OAD) == 20.0 and rig.device_array(OAD)[9] == 20.0
    await rig.publish({FAN: False})  # the fan stops: the valves close
    assert rig.slot(CLG) == 0.0 and rig.slot(HTG) == 0.0
    status = rig.engine.status(ahu.id)[ahu.id]
    assert (status.state, status.errors) == ("running", 0)
    writer = {c.requested_by for p in (SAT_SP, CLG, OAD) for c in rig.arbiter.slots(p) if c}
    assert writer == {f"program:{ahu.id}"}


async def test_the_boiler_program_resets_the_setpoint_and_fails_over_to_the_lag_boiler(office):
    rig = Rig(office)
    rig.engine.load(load_example("boiler"), 1)
    b1, b2 = "hq/boiler-1/enable-cmd", "hq/boiler-2/enable-cmd"
    await rig.publish({OAT: 5.0, "hq/boiler-1/fault": False, "hq/boiler-2/fault": False})
    assert rig.slot("hq/hw-plant/hws-sp") == pytest.approx(82 - 22 * 15 / 25)
    assert (rig.slot(b1), rig.slot(b2)) == (True, False)
    await rig.publish({"hq/boiler-1/fault": True})
    assert (rig.slot(b1), rig.slot(b2)) == (False, True)  # failover in the same evaluation
    await rig.publish({OAT: 18.0})  # above the heating limit: both off
    assert (rig.slot(b1), rig.slot(b2)) == (False, False)


async def test_the_chiller_program_stages_on_load_after_the_delay(office):
    rig = Rig(office)
    rig.engine.load(load_example("chiller"), 1)
    c1, c2 = "hq/chiller-1/enable-cmd", "hq/chiller-2/enable-cmd"
    await rig.publish({OAT: 25.0, "hq/chw-plant/chws-t": 12.0})  # 5 K above setpoint: full load
    assert rig.slot(c1) is False
    for _ in range(125):  # ten minutes and more of ticks
        await rig.tick(5)
    assert (rig.slot(c1), rig.slot(c2)) == (True, False)
    for _ in range(125):
        await rig.tick(5)
    assert (rig.slot(c1), rig.slot(c2)) == (True, True)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SPECS = (
    ObjectSpec("analog-input", 1, "OA-T", 15.0, "degreesCelsius"),
    ObjectSpec("analog-input", 2, "SA-T", 16.0, "degreesCelsius"),
    ObjectSpec("analog-input", 3, "RA-T", 22.0, "degreesCelsius"),
    ObjectSpec("binary-input", 4, "SF-S", True),
    ObjectSpec("analog-value", 5, "SA-SP", 13.0, "degreesCelsius"),
    ObjectSpec("analog-output", 6, "CLG-O", 0.0, "percent"),
    ObjectSpec("analog-output", 7, "HTG-O", 0.0, "percent"),
    ObjectSpec("analog-output", 8, "OAD-O", 20.0, "percent"),
)


def bacnet_site() -> SiteConfig:
    """The points the AHU program uses, on BACnet device 1001, commanded in passthrough."""

    def point(name: str, obj: str, unit: str | None = "degC", **extra: object) -> dict[str, object]:
        p: dict[str, object] = {"name": name, "binding": f"bacnet://1001/{obj}", "poll": 0.2, **extra}
        if unit:
            p["unit"] = unit
        return p

    out = {"writable": True, "command": {"mode": "passthrough"}, "limits": {"min": 0, "max": 100}}
    return SiteConfig.model_validate({"site": {"id": "hq"}, "equipment": [
        {"id": "weather", "points": [point("oat", "analog-input,1")]},
        {"id": "ahu-1", "points": [
            point("sat", "analog-input,2"), point("rat", "analog-input,3"),
            point("fan-status", "binary-input,4", None, kind="bool"),
            point("sat-sp", "analog-value,5", writable=True, command={"mode": "passthrough"},
                  limits={"min": 10, "max": 18}),
            point("clg-valve", "analog-output,6", "%", **out),
            point("htg-valve", "analog-output,7", "%", **out),
            point("oad-cmd", "analog-output,8", "%", **out),
        ]},
    ]})


async def test_the_ahu_program_commands_a_bacnet_device_at_its_priority():
    sim = SimulatedBACnet.build(1, SPECS, port=free_udp_port(), subnet="127.0.9")
    sim.start()
    driver = BACnetDriver(DriverSettings(address=f"127.0.0.1/8:{free_udp_port()}",
                                         devices=sim.address_map(), timeout=2, cov=False))
    await driver.start()
    cfg = bacnet_site()
    clock = WallClock()
    bus = Bus()
    points = [PointBinding(p, parse_binding(pt.binding), 0.2) for p, _e, pt in cfg.points() if pt.binding]
    manager = DriverManager(bus, clock, {"bacnet": driver}, points, {"bacnet": driver.settings})
    arbiter = Arbiter([cfg], manager, clock)
    engine = ProgramEngine(catalog_from_sites([cfg]), clock, arbiter_write(arbiter))
    bus.subscribe_callback("*", engine.feed, name="programs")
    ahu = load_example("ahu")
    engine.load(ahu, 1)
    device = sim[1001]
    try:
        await manager.start()  # samples polled from the device drive the program
        await eventually(lambda: device.priority_array(("analog-output", 6))[9] is not None
                         and device.priority_array(("analog-value", 5))[9] is not None,
                         "the program's commands in the device's priority arrays")
        assert device.priority_array(("analog-value", 5))[9] == pytest.approx(16 - 3 * 5 / 11, abs=1e-4)
        assert device.priority_array(("analog-output", 6))[9] > 0  # 16 °C supply: cooling
        await eventually(lambda: device.priority_array(("analog-output", 8))[9] is not None,
                         "the damper command")
        device.set_value(("analog-input", 1), 25.0)  # warmer outdoors than the return air
        await eventually(lambda: device.priority_array(("analog-output", 8))[9] == 20.0,
                         "the damper back at its minimum position")
        assert all(v is None for i, v in enumerate(device.priority_array(("analog-output", 8))) if i != 9)
        assert engine.status(ahu.id)[ahu.id].errors == 0
    finally:
        await engine.stop()
        await manager.stop()
        await arbiter.stop()
        await driver.stop()
        sim.stop()
