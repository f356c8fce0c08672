"""One site model: every site, loaded or built in code, carries its calendars, schedules, alarms,
notifications and programs, and the model needs nothing above it."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from pydantic import ValidationError

from openbms.config import load_site
from openbms.config.checks import check_control
from openbms.model.alarm import HighLimitRule, NotificationsConfig
from openbms.model.calendar import Calendar
from openbms.model.schedule import Schedule
from openbms.model.site import Equipment, Point, Site, SiteConfig


def _site(**sections: object) -> SiteConfig:
    return SiteConfig.model_validate({
        "site": {"id": "hq", "timezone": "Europe/London"},
        "equipment": [{"id": "ahu-1", "points": [
            {"name": "sat", "unit": "degC"},
            {"name": "occ", "kind": "bool", "writable": True, "relinquish_default": False},
        ]}],
        **sections,
    })


SECTIONS = {
    "calendars": [{"id": "uk-holidays", "entries": ["2026-12-25", "12-26"]}],
    "schedules": [{"id": "occupancy", "kind": "bool", "default": False, "targets": ["hq/ahu-1/occ"],
                   "weekly": {"monday": [{"time": "07:00", "value": True},
                                         {"time": "19:00", "value": False}]},
                   "exceptions": [{"name": "holidays", "when": {"calendar": "uk-holidays"}}]}],
    "alarms": [{"id": "sat-high", "type": "high", "point": "hq/ahu-1/sat", "limit": 30, "class": "comfort"}],
    "notifications": {"targets": {"ops": {"type": "webhook", "url": "http://127.0.0.1:9/hook"}},
                      "routes": [{"notify": ["ops"]}]},
    "programs": ["logic/economiser.json"],
}


def test_a_site_built_in_code_has_every_control_section_and_each_is_empty():
    cfg = SiteConfig(site=Site(id="hq"), equipment=(Equipment(id="ahu-1", points=(Point(name="sat"),)),))
    assert cfg.calendars == () and cfg.schedules == () and cfg.alarms == () and cfg.programs == ()
    assert cfg.notifications == NotificationsConfig()
    assert cfg.source is None and cfg.program_paths() == []
    assert check_control(cfg) == []


def test_a_site_built_in_code_takes_schedules_that_do_not_repeat_the_site():
    cfg = _site(**SECTIONS)
    (schedule,) = cfg.schedules
    assert isinstance(schedule, Schedule) and schedule.site == "hq"
    assert isinstance(cfg.calendars[0], Calendar) and isinstance(cfg.alarms[0], HighLimitRule)
    assert cfg.alarms[0].alarm_class == "comfort" and set(cfg.notifications.targets) == {"ops"}
    # The whole-site checks run on it as on a file: here only the program file is missing.
    assert [loc for loc, _message in check_control(cfg)] == [("programs", 0)]


def test_a_site_dumped_as_its_file_reads_back_the_same():
    cfg = _site(**SECTIONS)
    dumped = cfg.model_dump(mode="json", exclude_defaults=True, by_alias=True)
    assert {"calendars", "schedules", "alarms", "notifications", "programs"} <= set(dumped)
    assert SiteConfig.model_validate(dumped) == cfg
    bare = _site().model_dump(mode="json", exclude_defaults=True, by_alias=True)
    assert not {"calendars", "schedules", "alarms", "notifications", "programs"} & set(bare)


def test_a_control_section_is_checked_where_it_is_written():
    with pytest.raises(ValidationError) as err:
        _site(alarms=[{"id": "sat-high", "type": "high", "point": "hq/ahu-1/sat", "limit": "hot"}])
    assert [e["loc"] for e in err.value.errors()] == [("alarms", 0, "high", "limit")]


def test_a_loaded_site_knows_its_file_and_finds_its_programs_beside_it(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(textwrap.dedent("""\
        site: {id: hq}
        programs: [logic/a.json]
        """))
    (tmp_path / "logic").mkdir()
    (tmp_path / "logic" / "a.json").write_text('{"id": "a", "site": "hq", "blocks": []}')
    cfg = load_site(path)
    assert cfg.source == path
    assert cfg.program_paths() == [tmp_path / "logic" / "a.json"]
    moved = cfg.with_source(tmp_path / "elsewhere" / "site.yaml")
    assert moved.program_paths() == [tmp_path / "elsewhere" / "logic" / "a.json"]
    assert cfg.source == path  # with_source copies: the loaded site is unchanged


def test_the_site_model_imports_nothing_above_the_model():
    code = textwrap.dedent("""\
        import sys
        import openbms.model, openbms.model.site, openbms.model.alarm, openbms.model.schedule
        import openbms.model.calendar, openbms.model.expression, openbms.model.fields
        above = sorted(m for m in sys.modules if m.startswith("openbms.")
                       and not m.startswith("openbms.model") and m != "openbms.errors")
        print(" ".join(above))
        """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []
