"""Equipment graphics and floor plans generated from the site model (issue 14, "New: equipment graphics")."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

import openbms.examples
from openbms.analytics.graphics import Element, Graphic, Placement, graphic, plan, plans
from openbms.config import load_site
from openbms.model.site import SiteConfig

EXAMPLES = Path(openbms.examples.__file__).parent


@pytest.fixture(scope="module")
def demo() -> SiteConfig:
    return load_site(EXAMPLES / "demo" / "site.yaml")


def _site(text: str) -> SiteConfig:
    return SiteConfig.model_validate(yaml.safe_load(text))


def _drawn(g: Graphic) -> dict[str, list[tuple[str, str]]]:
    """Element id → its points as (point name, role)."""
    return {e.id: [(p.id.rsplit("/", 1)[1], p.role) for p in e.points] for e in g.elements}


def _all_points(g: Graphic) -> list[str]:
    return [p.id for e in g.elements for p in e.points] + list(g.unplaced)


def test_the_demo_ahu_has_its_airstream_in_order(demo: SiteConfig) -> None:
    g = graphic(demo, "ahu-1")
    assert g is not None and g.template == "ahu" and not g.saved
    drawn = _drawn(g)
    assert drawn["outside-air"] == [("oat", "value"), ("oa-rh", "value"), ("oa-flow", "value")]
    assert drawn["mixed-air"] == [("mat", "value")]
    assert drawn["supply-air"] == [("sat", "value"), ("sat-sp", "setpoint")]
    assert drawn["return-air"] == [("rat", "value"), ("ra-rh", "value")]
    assert drawn["supply-fan"] == [("fan-cmd", "command"), ("fan-status", "status"), ("kw", "value"),
                                   ("fan-speed", "speed")]
    assert drawn["outside-air-damper"] == [("econ-enable", "command"), ("oa-damper", "position"),
                                           ("oa-min", "setpoint")]
    assert drawn["heating-valve"] == [("htg-valve", "position")]
    assert drawn["cooling-valve"] == [("clg-valve", "position")]
    assert drawn["static-pressure"] == [("dsp", "value"), ("dsp-sp", "setpoint")]
    # the coils are drawn with their valves, and the air goes OAT → MAT → coils → SAT along the supply duct
    x = {e.id: e.x for e in g.elements}
    assert x["outside-air"] < x["mixed-air"] < x["filter"] < x["heating-coil"] < x["cooling-coil"] \
        < x["supply-fan"] < x["supply-air"]
    # no return fan or exhaust damper in this AHU: not drawn
    assert "return-fan" not in drawn and "exhaust-damper" not in drawn
    # the coils' loads, tagged cool and heat, on their coils; nothing left over
    assert g.unplaced == ()
    assert ("clg-load", "value") in drawn["cooling-coil"] and ("htg-load", "value") in drawn["heating-coil"]
    assert sorted(_all_points(g)) == sorted(demo.point_id(e, p) for e in demo.equipment if e.id == "ahu-1"
                                            for p in e.points)
    for e in g.elements:
        assert 0 <= e.x <= g.width and 0 <= e.y <= g.height, e.id
        assert (e.path is not None) == (e.kind in ("duct", "pipe")), e.id


def test_a_demo_vav_has_damper_airflow_reheat_and_zone(demo: SiteConfig) -> None:
    g = graphic(demo, "vav-c1")
    assert g is not None and g.template == "vav" and g.unplaced == ()
    drawn = _drawn(g)
    assert drawn["damper"] == [("damper", "position")]
    assert drawn["airflow"] == [("airflow", "value"), ("airflow-sp", "setpoint")]
    assert drawn["reheat-valve"] == [("reheat-vlv", "position")]
    assert drawn["reheat-coil"] == [("reheat-load", "value")]
    assert drawn["discharge-air"] == [("dat", "value")]
    zone = dict(drawn["zone"])
    assert zone["zone-temp"] == "value" and zone["eff-htg-sp"] == "setpoint" and zone["occ-mode"] == "command"


@pytest.mark.parametrize(("equip", "template", "maker", "flow", "units", "pump"), [
    ("chiller-plant", "chiller-plant", "chiller", "chw", ("ch-1", "ch-2"), "chwp-1"),
    ("boiler-plant", "boiler-plant", "boiler", "hw", ("blr-1", "blr-2"), "hwp-1"),
])
def test_the_demo_plants_have_their_units_pumps_and_headers(demo: SiteConfig, equip: str, template: str,
                                                            maker: str, flow: str, units: tuple[str, ...],
                                                            pump: str) -> None:
    g = graphic(demo, equip)
    assert g is not None and g.template == template and g.unplaced == ()
    kinds = {e.id: e.kind for e in g.elements}
    assert [k for k in kinds if kinds[k] == maker] == list(units)
    assert [k for k in kinds if kinds[k] == "pump"] == [pump]
    assert {e.flow for e in g.elements if e.kind == "pipe"} == {flow}
    drawn = _drawn(g)
    first = dict(drawn[units[0]])
    assert first[f"{units[0]}-en"] == "command" and first[f"{units[0]}-status"] == "status"
    assert dict(drawn[pump]) == {f"{pump}-en": "command", f"{pump}-status": "status", f"{pump}-kw": "value"}
    assert [r for _n, r in drawn["supply-temp"]] == ["value", "setpoint"]
    assert [r for _n, r in drawn["return-temp"]] == ["value"]
    if maker == "chiller":
        assert first["ch-1-alarm"] == "alarm"


def test_the_demo_meter_shows_power_and_energy_per_commodity(demo: SiteConfig) -> None:
    g = graphic(demo, "meters")
    assert g is not None and g.template == "meter"
    drawn = _drawn(g)
    assert [n for n, _r in drawn["meter-elec"]] == ["elec-kw", "elec-kwh", "ltg-kw", "plug-kw", "hvac-kw"]
    assert [n for n, _r in drawn["meter-gas"]] == ["gas-kw", "gas-kwh"]


SITE = """\
site: {id: s}
spaces:
  - {id: f1, kind: floor, name: Level 1}
  - {id: north-office, kind: zone, parent: f1}
  - {id: z-core, kind: zone, name: Core, parent: f1}
  - {id: z-south-a, kind: zone, name: South A, parent: f1}
  - {id: z-south-b, kind: zone, name: South B, parent: f1}
  - {id: store, kind: room, parent: f1}
equipment:
  - id: ahu
    type: ahu
    points:
      # named like anything else: the Brick class says what it is
      - {name: p1, brick: Supply_Air_Temperature_Sensor}
      - {name: p2, brick: Mixed_Air_Temperature_Sensor, tags: [return, air, temp, sensor]}
      - {name: sat, tags: [outside, air, temp, sensor]}
      - {name: x9, kind: bool, writable: true, relinquish_default: false, tags: [fan, run, cmd]}
      - {name: mystery, brick: Luminance_Sensor}
      - {name: oddity, tags: [foo, bar]}
  - id: gadget
    type: other
    name: Gadget
    points:
      - {name: level, writable: true, tags: [cmd]}
      - {name: running, kind: bool, tags: [run, sensor]}
      - {name: t}
  - id: fcu-n
    type: fcu
    space: north-office
    points:
      - {name: a, unit: degF, brick: Zone_Air_Temperature_Sensor}
      - {name: b, unit: degF, brick: Occupied_Air_Temperature_Heating_Setpoint, writable: true}
      - {name: c, unit: degF, brick: Occupied_Air_Temperature_Cooling_Setpoint, writable: true}
"""


def test_a_point_goes_by_its_brick_class_then_its_tags_never_its_name() -> None:
    cfg = _site(SITE)
    g = graphic(cfg, "ahu")
    assert g is not None
    drawn = _drawn(g)
    assert drawn["supply-air"] == [("p1", "value")]
    # the class wins over tags that say otherwise
    assert drawn["mixed-air"] == [("p2", "value")]
    assert "return-air" not in drawn
    # a point named 'sat' tagged as outside air is outside air
    assert drawn["outside-air"] == [("sat", "value")]
    assert drawn["supply-fan"] == [("x9", "command")]
    # what no rule takes is listed, not drawn
    assert g.unplaced == ("s/ahu/mystery", "s/ahu/oddity")


def test_an_unknown_type_is_a_box_of_labelled_values() -> None:
    cfg = _site(SITE)
    g = graphic(cfg, "gadget")
    assert g is not None and g.template == "generic" and g.unplaced == ()
    assert [e.kind for e in g.elements] == ["box"]
    assert _drawn(g)["equipment"] == [("level", "command"), ("running", "status"), ("t", "value")]
    assert g.elements[0].label == "Gadget"
    assert graphic(cfg, "nope") is None


def test_a_saved_placement_moves_an_element_and_keeps_the_rest(demo: SiteConfig) -> None:
    before = graphic(demo, "ahu-1")
    after = graphic(demo, "ahu-1", {"supply-fan": Placement(640, 160, w=80), "gone": Placement(1, 1)})
    assert before is not None and after is not None
    assert after.saved and not before.saved
    moved = {e.id: e for e in after.elements}["supply-fan"]
    assert (moved.x, moved.y, moved.w, moved.h) == (640, 160, 80, 70)
    assert [e for e in after.elements if e.id != "supply-fan"] == [e for e in before.elements
                                                                   if e.id != "supply-fan"]
    assert "gone" not in after.element_ids()


def test_the_demo_floor_plans_put_perimeters_around_the_core(demo: SiteConfig) -> None:
    assert [(p.space, p.zones) for p in plans(demo)] == [("floor-1", 5), ("floor-2", 5), ("floor-3", 5)]
    p = plan(demo, "floor-1")
    assert p is not None and not p.saved
    z = {zone.space: zone for zone in p.zones}
    assert set(z) == {"zone-c1", "zone-n1", "zone-e1", "zone-s1", "zone-w1"}
    core, north, south, east, west = (z[i] for i in ("zone-c1", "zone-n1", "zone-s1", "zone-e1", "zone-w1"))
    assert north.y + north.h <= core.y and core.y + core.h <= south.y
    assert west.x + west.w <= core.x and core.x + core.w <= east.x
    assert (north.temperature, north.low, north.high, north.band) == (
        "demo/vav-n1/zone-temp", "demo/vav-n1/eff-htg-sp", "demo/vav-n1/eff-clg-sp", None)
    assert north.equipment == ("vav-n1",) and north.tolerance == 1.0
    building = plan(demo, "building")
    assert building is not None and len(building.zones) == 15
    assert plan(demo, "nope") is None


def test_a_plan_lays_out_compass_zones_and_grids_the_rest() -> None:
    cfg = _site(SITE)
    assert [(p.space, p.name, p.zones) for p in plans(cfg)] == [("f1", "Level 1", 5)]
    p = plan(cfg, "f1")
    assert p is not None
    z = {zone.space: zone for zone in p.zones}
    # two south zones share the south side; 'store' has no compass word: on the grid below
    a, b = z["z-south-a"], z["z-south-b"]
    assert a.y == b.y and a.x + a.w <= b.x
    assert z["north-office"].y == 0 and z["z-core"].y > 0
    assert z["store"].y >= max(zone.y + zone.h for zone in p.zones if zone.space != "store")
    assert p.height >= z["store"].y + z["store"].h
    # a °F zone: occupied setpoints when there is no effective one, its tolerance in °F
    north = z["north-office"]
    assert (north.temperature, north.low, north.high) == ("s/fcu-n/a", "s/fcu-n/b", "s/fcu-n/c")
    assert north.tolerance == pytest.approx(1.8)
    # no point measures the store: null, and the fixed band
    assert (z["store"].temperature, z["store"].low, z["store"].band) == (None, None, (21.0, 24.0))


def test_a_plant_draws_the_equipment_that_feeds_it() -> None:
    office = load_site(EXAMPLES / "office" / "site.yaml")
    g = graphic(office, "chw-plant")
    assert g is not None and g.template == "chiller-plant"
    chillers = [e for e in g.elements if e.kind == "chiller"]
    assert [e.id for e in chillers] == [e.id for e in office.equipment
                                        if e.type == "chiller" and "chw-plant" in e.feeds]
    assert chillers[0].points[0].id == "hq/chiller-1/enable-cmd" and chillers[0].points[0].role == "command"
    # a chiller on its own is a plant of one
    alone = graphic(office, "chiller-1")
    assert alone is not None and [e.id for e in alone.elements if e.kind == "chiller"] == ["chiller-1"]


@pytest.mark.parametrize("example", ["demo", "office"])
def test_every_point_of_every_example_equipment_is_drawn_or_listed_once(example: str) -> None:
    cfg = load_site(EXAMPLES / example / "site.yaml")
    for equip in cfg.equipment:
        g = graphic(cfg, equip.id)
        assert g is not None, equip.id
        ids = [e.id for e in g.elements]
        assert len(ids) == len(set(ids)), equip.id
        own = {cfg.point_id(equip, p) for p in equip.points}
        shown = [p for p in _all_points(g) if p in own]
        assert sorted(shown) == sorted(own), equip.id


def test_a_plant_unit_named_like_an_element_of_the_template_keeps_its_own_id() -> None:
    cfg = _site("""\
site: {id: s}
equipment:
  - {id: hw, type: plant, tags: [hot, water, plant]}
  - id: flow
    type: pump
    feeds: [hw]
    points: [{name: en, kind: bool, writable: true, relinquish_default: false, tags: [enable, cmd]}]
  - id: b1
    type: boiler
    feeds: [hw]
    points: [{name: status, kind: bool, tags: [run, sensor], brick: Pump_Status}]
""")
    g = graphic(cfg, "hw")
    assert g is not None
    kinds = {e.id: e.kind for e in g.elements}
    assert kinds["unit-flow"] == "pump" and kinds["b1"] == "boiler"  # a boiler whatever its points say
    assert "flow" not in kinds


# ------------------------------------------------------------------------------ nothing overlaps
#
# The rule the dashboard draws text by (web/src/lib/graphic.ts textBox and labelLines, Graphic.tsx):
# a line is 21 units high; a label wraps at 8.6 units a character; an element's text block holds its
# label's lines and one line per point, 6 units more. A sensor's box holds its dot and text (at
# least 114 units wide); a labelled box (chiller, boiler, tower, meter, zone, box) holds its label and
# then its values inside it; a coil or filter has its text above it, any other symbol below it, the
# block centred on it and 76 to 200 units wide (the symbol's width + 36). A label is one line of
# bold text (9 units a character). A valve's stem and actuator rise 10 units above its box. Ducts and
# pipes are the lines the symbols sit on, so they are left out.

_LINE, _CHAR, _BOLD = 21.0, 8.6, 9.0
_BOXED = {"chiller", "boiler", "tower", "meter", "zone", "box"}
Box = tuple[float, float, float, float]


def _label_lines(label: str, w: float) -> int:
    return max(1, math.ceil(len(label) * _CHAR / max(1.0, w))) if label else 0


def _text_box(e: Element, width: float) -> Box | None:
    if e.kind in ("duct", "pipe", "label") or (e.kind in _BOXED and not e.points):
        return None
    if e.kind == "sensor":
        w = max(e.w - 14, 100.0)
        lines = _label_lines(e.label, w) + len(e.points)
        return (min(max(0.0, e.x + 14), max(0.0, width - w)), e.y, w, lines * _LINE + 6)
    if e.kind in _BOXED:
        return (e.x + 2, e.y + _LINE + 6, max(0.0, e.w - 4), len(e.points) * _LINE + 6)
    w = min(200.0, max(76.0, e.w + 36))
    h = (_label_lines(e.label, w) + len(e.points)) * _LINE + 6
    y = max(0.0, e.y - h - 4) if e.kind in ("heating-coil", "cooling-coil", "filter") else e.y + e.h + 4
    return (min(max(0.0, e.x + e.w / 2 - w / 2), max(0.0, width - w)), y, w, h)


def _boxes(e: Element, width: float) -> list[Box]:
    """What ``e`` covers: its symbol and its text block (one box for a labelled box: its text is inside)."""
    if e.kind in ("duct", "pipe"):
        return []
    if e.kind == "label":
        return [(e.x, e.y, max(e.w, len(e.label) * _BOLD), 24.0)]
    if e.kind == "valve":
        symbol: Box = (e.x, e.y - 10, e.w, e.h + 10)
    else:
        symbol = (e.x, e.y, e.w, e.h)
    text = _text_box(e, width)
    return [symbol] if text is None or e.kind in _BOXED else [symbol, text]


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _clashes(g: Graphic) -> list[str]:
    found = []
    covers = {e.id: _boxes(e, g.width) for e in g.elements}
    ids = list(covers)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            if any(_overlap(p, q) for p in covers[a] for q in covers[b]):
                found.append(f"{g.equipment}: {a} {covers[a]} overlaps {b} {covers[b]}")
    for e in g.elements:
        text = _text_box(e, g.width)
        if e.kind in _BOXED and text is not None and text[1] + text[3] > e.y + e.h:
            found.append(f"{g.equipment}: {e.id}'s {len(e.points)} values run past its box {e.h} high")
        for x, y, w, _h in covers[e.id]:
            if x < 0 or y < 0 or x + w > g.width:
                found.append(f"{g.equipment}: {e.id} leaves the drawing's width ({x}, {y}, {w})")
    return found


@pytest.mark.parametrize("example", ["demo", "office"])
def test_no_two_elements_or_their_text_overlap_in_any_example_drawing(example: str) -> None:
    cfg = load_site(EXAMPLES / example / "site.yaml")
    templates = set()
    clashes: list[str] = []
    for equip in cfg.equipment:
        g = graphic(cfg, equip.id)
        assert g is not None
        templates.add(g.template)
        clashes += _clashes(g)
    assert {"ahu", "vav", "chiller-plant", "boiler-plant", "meter"} <= templates
    assert clashes == []


def test_the_overlap_rule_sees_a_label_running_into_a_symbol() -> None:
    label = Element("l", "label", 0, 0, 50, 24, "A long label for its box")
    damper = Element("d", "damper", 150, 0, 50, 60, "Damper")
    assert _clashes(Graphic("e", "E", "x", "generic", 600, 400, False, (label, damper), ())) != []
    assert _clashes(Graphic("e", "E", "x", "generic", 600, 400, False, (label,), ())) == []
