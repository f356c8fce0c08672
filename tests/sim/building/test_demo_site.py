"""The demo site: discovered from the emulated building, checked, and kept in step with it."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from openbms.cli.main import app
from openbms.config import load_site
from openbms.control.programs import catalog_from_sites, parse_program, validate_program
from openbms.sim.building import Building
from openbms.sim.building.bacnet import BuildingFace
from openbms.sim.building.make_demo_site import HAND_WRITTEN, build_document, discover, render

DEMO = Path(__file__).parents[3] / "src" / "openbms" / "examples" / "demo"


def test_openbms_check_passes_on_the_demo_site():
    result = CliRunner().invoke(app, ["check", str(DEMO)])
    assert result.exit_code == 0, result.output
    # 19 BACnet devices, 15 MQTT sensors, 3 Modbus devices (38 profile points), 3 REST thermostats
    assert "ok: 1 site, 40 equipment, 389 points" in result.output


def test_the_demo_programs_validate_against_the_site():
    site = load_site(DEMO / "site.yaml")
    catalog = catalog_from_sites([site])
    programs = sorted((DEMO / "programs").glob("*.json"))
    assert {p.stem for p in programs} >= {"ahu", "plant", "zones"}
    for path in programs:
        assert validate_program(parse_program(path), catalog) == [], path.name


def test_every_emulator_point_is_bound_at_the_served_address():
    site = load_site(DEMO / "site.yaml")
    face = BuildingFace(Building())  # the serve defaults: 127.0.20.x:47808
    bindings = {p.binding for _pid, _eq, p in site.points() if p.binding.startswith("bacnet://")}
    assert bindings == {face.binding(point) for point in face.points()}
    devices = site.drivers["bacnet"].model_extra["devices"]
    assert {int(k): v for k, v in devices.items()} == face.address_map()


async def test_the_discovered_part_is_what_the_script_writes_today():
    text = (DEMO / "site.yaml").read_text()
    tail = text.split(HAND_WRITTEN, 1)[1]
    assert render(build_document(await discover()), tail) == text, (
        "examples/demo/site.yaml is out of date: run python -m openbms.sim.building.make_demo_site")
