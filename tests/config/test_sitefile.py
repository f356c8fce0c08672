"""Site files with control sections: calendars, schedules, alarms, notifications."""

from __future__ import annotations

import textwrap

import pytest

from openbms.config import load_site
from openbms.errors import ConfigError
from openbms.model.site import SiteConfig

HEAD = """\
site:
  id: hq
  timezone: Europe/London
equipment:
  - id: ahu-1
    type: ahu
    points:
      - name: sat
        unit: degC
        binding: sim://ahu-1/sat?wave=constant&value=14
      - name: occ
        kind: bool
        writable: true
        relinquish_default: false
        binding: sim://ahu-1/occ?wave=constant&value=0&kind=bool
"""

GOOD = HEAD + textwrap.dedent("""\
    calendars:
      - id: uk-holidays
        entries: ["2026-12-25", {month: 5, weekday: monday, nth: -1}]
    schedules:
      - id: occupancy
        kind: bool
        default: false
        targets: [hq/ahu-1/occ]
        weekly:
          monday: [{time: "07:00", value: true}, {time: "19:00", value: false}]
        exceptions:
          - name: holidays
            when: {calendar: uk-holidays}
            events: [{time: "00:00", value: false}]
    alarms:
      - id: sat-high
        type: high
        point: hq/ahu-1/sat
        limit: 30
        deadband: 1
        class: comfort
    notifications:
      targets:
        ops: {type: webhook, url: "http://127.0.0.1:9/hook"}
      routes:
        - notify: [ops]
    """)


def test_a_site_file_carries_its_calendars_schedules_alarms_and_notifications(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(GOOD)
    cfg = load_site(path)
    assert isinstance(cfg, SiteConfig)
    (sched,) = cfg.schedules
    assert sched.site == "hq" and sched.targets == ("hq/ahu-1/occ",)
    assert [c.id for c in cfg.calendars] == ["uk-holidays"]
    assert cfg.alarms[0].id == "sat-high" and cfg.alarms[0].alarm_class == "comfort"
    assert "ops" in cfg.notifications.targets


@pytest.mark.parametrize(("change", "line", "message"), [
    (("targets: [hq/ahu-1/occ]", "targets: [hq/ahu-1/nope]"), 23,
     "schedule 'occupancy' targets unknown point 'hq/ahu-1/nope'"),
    (("targets: [hq/ahu-1/occ]", "targets: [hq/ahu-1/sat]"), 23,
     "schedule 'occupancy' targets 'hq/ahu-1/sat', which is not writable"),
    (("when: {calendar: uk-holidays}", "when: {calendar: us-holidays}"), 28,
     "unknown calendar 'us-holidays' (calendars: uk-holidays)"),
    (("point: hq/ahu-1/sat\n", "point: hq/ahu-1/sta\n"), 31,
     "alarm rule 'sat-high' refers to unknown point 'hq/ahu-1/sta'"),
    (('{time: "07:00", value: true}', '{time: "25:00", value: true}'), 25, "25:00"),
])
def test_control_problems_are_reported_at_their_line(tmp_path, change, line, message):
    path = tmp_path / "site.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_site(path)
    found = [(i.line, i.message) for i in info.value.issues]
    assert any(message in m for _, m in found), found
    assert any(ln == line and message in m for ln, m in found), found


def test_a_program_file_problem_names_the_file_and_its_line(tmp_path):
    (tmp_path / "hold.json").write_text(
        '{\n  "id": "hold",\n  "site": "hq",\n  "period_s": 0.001,\n'
        '  "inputs": [], "blocks": [], "outputs": [], "wires": []\n}\n')
    path = tmp_path / "site.yaml"
    path.write_text(HEAD + "programs:\n  - hold.json\n")
    with pytest.raises(ConfigError) as info:
        load_site(path)
    messages = [i.message for i in info.value.issues]
    assert any(m.startswith("hold.json:4: period_s: ") for m in messages), messages
