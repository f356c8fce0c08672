"""Program templates: a program's equipment points become roles, bound again on every box of its type."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from openbms.config import load_site
from openbms.control.programs import ProgramError, catalog_from_sites, parse_program, validate_program
from openbms.control.programs.templates import Template, apply_template, make_template

DEMO = resources.files("openbms.examples") / "demo"


@pytest.fixture(scope="module")
def demo():
    with resources.as_file(DEMO / "site.yaml") as path:
        return load_site(path)


def _vav_template() -> Template:
    text = (DEMO / "programs" / "templates" / "vav-setpoints.json").read_text(encoding="utf-8")
    return Template.model_validate(json.loads(text))


def test_the_demo_vav_template_gives_every_vav_box_its_own_valid_program(demo):
    vavs = [e.id for e in demo.equipment if e.type == "vav"]
    assert len(vavs) == 15
    generated = apply_template(_vav_template(), demo, brick_class="VAV")
    assert [g.equipment for g in generated] == vavs
    catalog = catalog_from_sites([demo])
    for g in generated:
        assert g.issues == [] and g.program is not None
        assert g.program.id == f"vav-setpoints-{g.equipment}"
        assert {o.point for o in g.program.outputs} == {f"demo/{g.equipment}/occ-htg-sp",
                                                        f"demo/{g.equipment}/occ-clg-sp"}
        assert validate_program(g.program, catalog) == []


def test_a_program_for_one_box_becomes_a_template_by_brick_class_or_name(demo):
    program = parse_program({
        "id": "c1", "site": "demo", "name": "C1 comfort",
        "inputs": [{"id": "t", "point": "demo/vav-c1/zone-temp"}, {"id": "oat", "point": "demo/ahu-1/oat"}],
        "blocks": [{"id": "warm", "block": "compare", "params": {"op": "gt", "b": 24}}],
        "outputs": [{"id": "mode", "point": "demo/vav-c1/occ-mode"}],
        "wires": [{"from": "t", "to": "warm.a"}, {"from": "warm.out", "to": "mode"}]})
    template = make_template(program, demo, "vav-c1", "comfort")
    points = [n["point"] for n in template.program["inputs"] + template.program["outputs"]]
    assert points == ["$brick:Zone_Air_Temperature_Sensor", "demo/ahu-1/oat", "$brick:Occupancy_Command"]
    assert template.equipment_type == "vav" and template.roles() == [points[0], points[2]]
    (n2,) = apply_template(template, demo, equipment=["vav-n2"])
    assert n2.program is not None
    assert [i.point for i in n2.program.inputs] == ["demo/vav-n2/zone-temp", "demo/ahu-1/oat"]
    with pytest.raises(ProgramError, match="no point of 'vav-n1'"):
        make_template(program, demo, "vav-n1", "comfort")


def test_a_role_the_equipment_lacks_is_named_and_gives_no_program(demo):
    template = _vav_template()
    template.program["outputs"][0]["point"] = "$brick:Nonexistent_Setpoint"
    (one,) = apply_template(template, demo, equipment=["vav-c1"])
    assert one.program is None
    assert [(i.path, i.message) for i in one.issues] == [
        ("outputs[0].point", "'vav-c1' has no point of Brick class 'Nonexistent_Setpoint'")]
    with pytest.raises(ProgramError, match="no equipment 'vav-x'"):
        apply_template(template, demo, equipment=["vav-x"])
