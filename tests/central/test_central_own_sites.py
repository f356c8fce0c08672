"""The centre's own schedules and calendars of a site (``CentralSites``, ``DATA/sites/SITE.yaml``):
merged into its copy of what the edge published, checked against the points the edge lets write
and the centre's priorities, kept in their file after an API change; any other change of the site,
or of a calendar of the edge's, is refused at the centre; a wrong file is said and left as it is,
and the site is still served."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from openbms.central.sites import CentralSites
from openbms.control.programs import parse_program, validate_program
from openbms.errors import ConfigError
from openbms.runtime.clock import ManualClock
from openbms.service.assembly import Assembly

EDGE: dict[str, Any] = {
    "site": {"id": "hq", "name": "Headquarters", "timezone": "Europe/Paris"},
    "calendars": [{"id": "holidays", "entries": [{"date": "2026-12-25"}]}],
    "schedules": [{"id": "edge-own", "site": "hq", "targets": ["hq/ahu-1/sat-sp"], "default": 20}],
    "equipment": [{"id": "ahu-1", "type": "ahu", "points": [
        {"name": "sat", "unit": "degC", "binding": "sim://ahu-1/sat"},
        {"name": "sat-sp", "unit": "degC", "writable": True, "limits": {"min": 10, "max": 18},
         "binding": "sim://ahu-1/sat-sp"},
    ]}],
}
OCCUPANCY = {"id": "occ", "site": "hq", "targets": ["hq/ahu-1/sat-sp"], "priority": 14,
             "default": 16, "weekly": {"monday": [{"time": "07:00", "value": 14}]},
             "exceptions": [{"name": "holidays", "when": {"calendar": "holidays"}}]}


def _own(folder: Path, doc: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "hq.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def test_the_centres_own_schedules_and_calendars_are_merged_into_its_copy(tmp_path: Path) -> None:
    own_calendar = {"id": "shutdowns", "entries": [{"date": "2026-08-10"}]}
    path = _own(tmp_path / "sites", {"schedules": [OCCUPANCY], "calendars": [own_calendar]})
    cfg = CentralSites(tmp_path / "sites").build(EDGE)
    assert [s.id for s in cfg.schedules] == ["occ"]  # the edge's own schedule stays the edge's
    assert [c.id for c in cfg.calendars] == ["holidays", "shutdowns"]
    assert cfg.source == path
    assert not any(p.writable for _pid, _e, p in cfg.points())  # no priority array at the centre


@pytest.mark.parametrize(("doc", "said"), [
    ({"schedules": [{**OCCUPANCY, "priority": 8}]}, "schedules.0.priority: priority 8"),
    ({"schedules": [{**OCCUPANCY, "targets": ["hq/ahu-1/sat"]}]}, "not writable at its edge"),
    ({"schedules": [OCCUPANCY], "equipment": []}, "equipment: the centre keeps only"),
    ({"calendars": [{"id": "holidays", "entries": []}]}, "has the id of one of the edge's"),
    ("- just a list", "expected a mapping"),
    ({"schedules": "occ"}, "schedules: expected a list"),
])
def test_a_wrong_file_of_the_centre_is_said_and_left_and_the_site_is_served_without_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, doc: Any, said: str) -> None:
    path = _own(tmp_path / "sites", doc)
    before = path.read_bytes()
    with caplog.at_level(logging.ERROR, logger="openbms.central.sites"):
        cfg = CentralSites(tmp_path / "sites").build(EDGE)
    assert cfg.schedules == () and [c.id for c in cfg.calendars] == ["holidays"]
    assert said in caplog.text and str(path) in caplog.text
    assert path.read_bytes() == before


def test_an_api_change_of_the_schedules_is_kept_in_the_centres_file_only(tmp_path: Path) -> None:
    sites = CentralSites(tmp_path / "sites")
    running = sites.build(EDGE)
    assert running.source is not None
    occupancy = type(running).model_validate({**EDGE, "schedules": [OCCUPANCY]}).schedules
    changed = running.model_copy(update={"schedules": occupancy})
    kept = sites.write(running, changed, running.source)
    assert [s.id for s in kept.schedules] == ["occ"] and kept.source == running.source
    on_disk = yaml.safe_load(running.source.read_text(encoding="utf-8"))
    assert set(on_disk) == {"schedules", "calendars"}
    assert on_disk["calendars"] == []  # the edge's calendar is not copied into the centre's file
    assert on_disk["schedules"][0]["id"] == "occ" and on_disk["schedules"][0]["priority"] == 14
    again = CentralSites(tmp_path / "sites").build(EDGE)  # a restart reads it back
    assert again.schedules == kept.schedules
    # a second change keeps the first as .bak
    sites.write(kept, kept.model_copy(update={"schedules": ()}), running.source)
    assert yaml.safe_load(running.source.read_text())["schedules"] == []
    assert "occ" in running.source.with_name("hq.yaml.bak").read_text()


def test_any_other_change_of_the_site_or_of_an_edge_calendar_is_refused(tmp_path: Path) -> None:
    sites = CentralSites(tmp_path / "sites")
    running = sites.build(EDGE)
    assert running.source is not None
    renamed = running.model_copy(update={"site": running.site.model_copy(update={"name": "HQ"})})
    with pytest.raises(ConfigError, match="its configuration is its edge's"):
        sites.write(running, renamed, running.source)
    holidays = running.calendars[0].model_copy(update={"entries": ()})
    with pytest.raises(ConfigError, match="calendar 'holidays' is the edge's"):
        sites.write(running, running.model_copy(update={"calendars": (holidays,)}), running.source)
    with pytest.raises(ConfigError, match="calendar 'holidays' is the edge's"):
        sites.write(running, running.model_copy(update={"calendars": ()}), running.source)
    urgent = type(running).model_validate({**EDGE, "schedules": [{**OCCUPANCY, "priority": 3}]})
    with pytest.raises(ConfigError, match="priority 3"):
        sites.write(running, running.model_copy(update={"schedules": urgent.schedules}),
                    running.source)
    assert not running.source.exists()  # nothing was written


class _Edge:
    """What the catalogue of a central openbms asks of its writer."""

    min_priority = 9

    def writable(self, point: str) -> bool:
        return point == "hq/ahu-1/sat-sp"


def test_a_program_at_the_centre_commands_the_edges_writable_points_at_9_to_16_only(
        tmp_path: Path) -> None:
    cfg = CentralSites(tmp_path / "sites").build(EDGE)
    assembly = Assembly([cfg], ManualClock(1_790_000_000.0), remote=_Edge())  # type: ignore[arg-type]
    catalog = assembly.catalog()
    assert catalog["hq/ahu-1/sat-sp"].writable and not catalog["hq/ahu-1/sat"].writable

    def program(priority: int, point: str = "hq/ahu-1/sat-sp") -> Any:
        path = tmp_path / f"p{priority}.json"
        path.write_text(json.dumps({
            "id": "reset", "site": "hq", "constants": [{"id": "c", "value": 15.0}],
            "outputs": [{"id": "o", "point": point, "priority": priority}],
            "wires": [{"from": "c", "to": "o"}]}))
        return parse_program(path)

    assert validate_program(program(12), catalog) == []
    urgent = validate_program(program(8), catalog)
    assert [(i.path, "9 to 16" in i.message) for i in urgent] == [("outputs[0].priority", True)]
    assert "not writable" in validate_program(program(12, "hq/ahu-1/sat"), catalog)[0].message


def test_while_the_centres_file_is_wrong_an_api_change_is_refused_and_the_file_kept(
        tmp_path: Path) -> None:
    night = {**OCCUPANCY, "id": "night", "targets": ["hq/ahu-1/sat"]}  # not writable at the edge
    path = _own(tmp_path / "sites", {"schedules": [OCCUPANCY, night]})
    before = path.read_bytes()
    sites = CentralSites(tmp_path / "sites")
    running = sites.build(EDGE)
    assert running.schedules == ()
    assert len(sites.problems()) == 1 and "not writable at its edge" in sites.problems()[0]
    occupancy = type(running).model_validate({**EDGE, "schedules": [OCCUPANCY]}).schedules
    with pytest.raises(ConfigError, match=r"is wrong .* fix it"):
        sites.write(running, running.model_copy(update={"schedules": occupancy}), path)
    assert path.read_bytes() == before  # neither schedule is lost
    path.write_text(yaml.safe_dump({"schedules": [OCCUPANCY]}))  # fixed by hand
    assert [s.id for s in sites.build(EDGE).schedules] == ["occ"] and sites.problems() == []


@pytest.mark.parametrize(("schedule", "said"), [
    ({**OCCUPANCY, "priority": 12}, "written by the edge's own schedule 'edge-own'"),
    ({**OCCUPANCY, "default": 25}, "25 is outside the limits of 'hq/ahu-1/sat-sp' at its edge"),
    ({**OCCUPANCY, "weekly": {"friday": [{"time": "06:00", "value": 9}]}}, "9 is outside"),
])
def test_a_schedule_of_the_centre_against_the_edge_is_refused(
        tmp_path: Path, schedule: dict[str, Any], said: str) -> None:
    sites = CentralSites(tmp_path / "sites")
    running = sites.build(EDGE)
    assert running.source is not None
    wanted = type(running).model_validate({**EDGE, "schedules": [schedule]}).schedules
    with pytest.raises(ConfigError, match=said):
        sites.write(running, running.model_copy(update={"schedules": wanted}), running.source)
    assert not running.source.exists()
