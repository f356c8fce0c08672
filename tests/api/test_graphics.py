"""Equipment graphics and floor plans over HTTP (issue 14, "New: equipment graphics").

The ``live`` runtime's site hq is a folder of site files (tests/api/live.py); a saved
layout lands in ``<that folder>/graphics/hq/equipment/<equipment>.yaml``.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
import yaml

from openbms.api.routes import graphics as routes
from openbms.errors import ConfigIssue
from tests.api.live import Live, live  # noqa: F401  (the fixture)

GRAPHIC = "/api/v1/sites/hq/equipment/ahu-1/graphic"


def _element(body: dict, element_id: str) -> dict:
    return next(e for e in body["elements"] if e["id"] == element_id)


async def test_the_graphic_of_an_ahu_puts_its_points_on_their_elements(live: Live) -> None:  # noqa: F811
    r = await live.get("viewer", GRAPHIC)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["equipment"], body["template"], body["saved"]) == ("ahu-1", "ahu", False)
    assert body["width"] > 0 and body["height"] > 0
    supply = _element(body, "supply-air")
    assert supply["kind"] == "sensor"
    assert [(p["id"], p["role"]) for p in supply["points"]] == [
        ("hq/ahu-1/sat", "value"), ("hq/ahu-1/sat-sp", "setpoint")]
    duct = _element(body, "supply-duct")
    assert duct["kind"] == "duct" and duct["flow"] == "air" and len(duct["path"]) >= 2
    assert "path" not in _element(body, "supply-fan")  # only ducts and pipes have one
    # fan-cmd has neither tags nor a Brick class: nothing says what it is
    assert body["unplaced"] == ["hq/ahu-1/fan-cmd"]


async def test_put_saves_positions_in_the_site_folder_and_get_shows_them(live: Live) -> None:  # noqa: F811
    r = await live.put("fm", GRAPHIC, json={"elements": {
        "supply-fan": {"x": 640, "y": 160}, "supply-air": {"x": 800, "y": 120, "w": 60, "h": 40}}})
    assert r.status_code == 200, r.text
    assert r.json()["saved"] is True
    assert (_element(r.json(), "supply-fan")["x"], _element(r.json(), "supply-fan")["y"]) == (640, 160)
    path = live.folder / "graphics" / "hq" / "equipment" / "ahu-1.yaml"
    saved = yaml.safe_load(path.read_text())["elements"]
    assert saved["supply-air"] == {"x": 800, "y": 120, "w": 60, "h": 40}
    # a second save adds to the first
    r = await live.put("fm", GRAPHIC, json={"elements": {"filter": {"x": 300, "y": 250}}})
    assert r.status_code == 200, r.text
    body = (await live.get("viewer", GRAPHIC)).json()
    assert body["saved"] is True
    fan, sensor, filt = (_element(body, i) for i in ("supply-fan", "supply-air", "filter"))
    assert (fan["x"], fan["y"], sensor["w"], sensor["h"], filt["x"]) == (640, 160, 60, 40, 300)
    audit = (await live.get("admin", "/api/v1/audit")).json()["items"]
    assert [a["target"] for a in audit if a["action"] == "graphic.save"] == ["hq/ahu-1", "hq/ahu-1"]


async def test_put_refuses_an_unknown_element_and_a_position_off_the_drawing(live: Live) -> None:  # noqa: F811
    r = await live.put("fm", GRAPHIC, json={"elements": {"nope": {"x": 1, "y": 1}}})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert [e["loc"] for e in r.json()["errors"]] == [["body", "elements", "nope"]]
    assert "supply-fan" in r.json()["errors"][0]["msg"]  # names what there is
    r = await live.put("fm", GRAPHIC, json={"elements": {"supply-fan": {"x": 5000, "y": 1}}})
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == [["body", "elements", "supply-fan", "x"]]
    assert "0..1000" in r.json()["errors"][0]["msg"]
    r = await live.put("fm", GRAPHIC, json={"elements": {"supply-fan": {"x": "left", "y": 1, "z": 2}}})
    assert r.status_code == 422, r.text
    assert sorted(e["loc"][-1] for e in r.json()["errors"]) == ["x", "z"]
    assert not (live.folder / "graphics").exists()  # nothing was saved


async def test_delete_forgets_the_saved_layout(live: Live) -> None:  # noqa: F811
    generated = (await live.get("viewer", GRAPHIC)).json()
    r = await live.put("fm", GRAPHIC, json={"elements": {"supply-fan": {"x": 10, "y": 10}}})
    assert r.status_code == 200, r.text
    r = await live.delete("fm", GRAPHIC)
    assert r.status_code == 200, r.text
    assert r.json() == generated
    assert (await live.get("viewer", GRAPHIC)).json() == generated
    assert not (live.folder / "graphics" / "hq" / "equipment" / "ahu-1.yaml").exists()


async def test_a_viewer_may_look_but_not_save(live: Live) -> None:  # noqa: F811
    body = {"elements": {"supply-fan": {"x": 10, "y": 10}}}
    assert (await live.put("viewer", GRAPHIC, json=body)).status_code == 403
    assert (await live.delete("viewer", GRAPHIC)).status_code == 403
    assert (await live.put("operator", GRAPHIC, json=body)).status_code == 403
    assert not (live.folder / "graphics").exists()


async def test_unknown_equipment_and_site_are_404_problems(live: Live) -> None:  # noqa: F811
    r = await live.get("viewer", "/api/v1/sites/hq/equipment/nope/graphic")
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    r = await live.put("fm", "/api/v1/sites/hq/equipment/nope/graphic", json={"elements": {}})
    assert r.status_code == 404
    assert (await live.get("viewer", "/api/v1/sites/nowhere/equipment/ahu-1/graphic")).status_code == 404
    assert (await live.get("labviewer", GRAPHIC)).status_code == 404  # not granted: as if it did not exist


async def test_a_broken_saved_layout_leaves_the_generated_positions(
        live: Live, caplog: pytest.LogCaptureFixture) -> None:  # noqa: F811
    generated = _element((await live.get("viewer", GRAPHIC)).json(), "filter")["x"]
    folder = live.folder / "graphics" / "hq" / "equipment"
    folder.mkdir(parents=True)
    text = ("# kept by hand\nelements:\n  supply-fan: {x: 12, y: 34}\n  gone: {x: 1, y: 1}\n"
            "  filter: {x: left, y: 1}\n")
    (folder / "ahu-1.yaml").write_text(text)
    with caplog.at_level(logging.WARNING, logger="openbms.api.routes.graphics"):
        body = (await live.get("viewer", GRAPHIC)).json()
        assert (await live.get("viewer", GRAPHIC)).json() == body
    assert body["saved"] is True
    assert (_element(body, "supply-fan")["x"], _element(body, "supply-fan")["y"]) == (12, 34)
    assert _element(body, "filter")["x"] == generated  # its entry is broken: the generated position
    # each problem logged once, with where it is, however often the graphic is asked for
    logged = [r.getMessage() for r in caplog.records if r.name == "openbms.api.routes.graphics"]
    assert len(logged) == 2
    assert "ahu-1.yaml:4:3: no element 'gone'" in logged[0] and "ahu-1.yaml:5:15: x must be" in logged[1]
    # review 17: a save rewrote the file from its valid entries only, dropping the others and the comment;
    # while the file has problems it is refused, the problems listed, the file as it was
    r = await live.put("fm", GRAPHIC, json={"elements": {"supply-air": {"x": 700, "y": 330}}})
    assert r.status_code == 409, r.text
    problem = r.json()
    assert "graphics/hq/equipment/ahu-1.yaml has problems" in problem["detail"]
    assert problem["errors"][0] == {"loc": [], "msg": problem["detail"], "type": "layout_problems"}
    assert [e["msg"][:45] for e in problem["errors"] if e["loc"] == ["file"]] == [
        "graphics/hq/equipment/ahu-1.yaml:4:3: no elem", "graphics/hq/equipment/ahu-1.yaml:5:15: x must"]
    assert str(live.folder) not in r.text  # no server path in an answer
    assert (folder / "ahu-1.yaml").read_text() == text
    assert not [a for a in (await live.get("admin", "/api/v1/audit")).json()["items"]
                if a["action"] == "graphic.save"]
    # fixed by hand, it saves again
    (folder / "ahu-1.yaml").write_text("elements:\n  supply-fan: {x: 12, y: 34}\n")
    r = await live.put("fm", GRAPHIC, json={"elements": {"supply-air": {"x": 700, "y": 330}}})
    assert r.status_code == 200, r.text
    saved = yaml.safe_load((folder / "ahu-1.yaml").read_text())["elements"]
    assert set(saved) == {"supply-fan", "supply-air"}


async def test_plans_list_the_floors_with_zones_and_draw_them(live: Live) -> None:  # noqa: F811
    r = await live.get("viewer", "/api/v1/sites/hq/plans")
    assert r.status_code == 200, r.text
    assert r.json() == [{"space": "floor-1", "name": "floor-1", "zones": 1}]
    r = await live.get("viewer", "/api/v1/sites/hq/spaces/floor-1/plan")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["space"] == "floor-1" and body["saved"] is False
    [zone] = body["zones"]
    assert zone["space"] == "zone-1" and zone["equipment"] == ["vav-1"]
    assert zone["temperature"] == "hq/vav-1/zone-temp"
    # vav-1's setpoint has no tags: the zone is judged by the fixed band
    assert (zone["low"], zone["high"], zone["band"]) == (None, None, [21.0, 24.0])
    assert zone["w"] > 0 and zone["h"] > 0
    assert (await live.get("viewer", "/api/v1/sites/hq/spaces/nope/plan")).status_code == 404


async def test_a_saved_plan_layout_moves_its_zones(live: Live) -> None:  # noqa: F811
    folder = live.folder / "graphics" / "hq" / "plans"
    folder.mkdir(parents=True)
    (folder / "floor-1.yaml").write_text("elements:\n  zone-1: {x: 100, y: 50, w: 200, h: 100}\n")
    body = (await live.get("viewer", "/api/v1/sites/hq/spaces/floor-1/plan")).json()
    assert body["saved"] is True
    [zone] = body["zones"]
    assert (zone["x"], zone["y"], zone["w"], zone["h"]) == (100, 50, 200, 100)


async def test_concurrent_saves_of_different_elements_all_stay(live: Live) -> None:  # noqa: F811
    moved = ["supply-fan", "supply-air", "filter", "outside-air-damper", "label-outside", "label-supply"]
    answers = await asyncio.gather(*(
        live.put("fm" if i % 2 else "admin", GRAPHIC, json={"elements": {e: {"x": 10 + i, "y": 20 + i}}})
        for i, e in enumerate(moved)))
    assert [r.status_code for r in answers] == [200] * len(moved)
    path = live.folder / "graphics" / "hq" / "equipment" / "ahu-1.yaml"
    saved = yaml.safe_load(path.read_text())["elements"]
    assert saved == {e: {"x": 10 + i, "y": 20 + i} for i, e in enumerate(moved)}


def test_each_problem_of_a_layout_file_is_logged_once_however_many_there_are(
        caplog: pytest.LogCaptureFixture) -> None:
    # review 17: past 1 000 problems the set of those logged was cleared, and every GET logged them all again
    issues = [ConfigIssue("graphics/hq/equipment/ahu-1.yaml", i + 2, 3, f"no element 'e{i}' in this drawing")
              for i in range(1500)]
    with caplog.at_level(logging.WARNING, logger="openbms.api.routes.graphics"):
        routes._warn(issues)
        first = len(caplog.records)
        routes._warn(issues)
        assert len(caplog.records) == first == 1500
        # a problem fixed and one new: only the new one is logged
        routes._warn([*issues[1:], ConfigIssue(issues[0].file, 1, 1, "something new")])
    assert [r.getMessage() for r in caplog.records[first:]] == [
        "saved layout: graphics/hq/equipment/ahu-1.yaml:1:1: something new (that entry is left out; "
        "openbms check lists every problem)"]
