"""Enum values are state numbers counting from 1 (BACnet's multi-state convention); labels become them."""

from __future__ import annotations

import pytest

from openbms.model.fields import state_number
from openbms.model.site import Point
from openbms.model.validate import check_site

STATES = ("off", "auto", "manual")


@pytest.mark.parametrize(("value", "number"), [
    ("off", 1), ("manual", 3), (1, 1), (3, 3), (2.0, 2),
    (0, None), (4, None), (2.5, None), (True, None), ("party", None), (None, None),
])
def test_a_label_or_a_number_from_1_is_a_state(value, number):
    assert state_number(STATES, value) == number


def test_an_enum_relinquish_default_given_as_a_label_is_its_state_number():
    point = Point(name="mode", kind="enum", states=STATES, writable=True, relinquish_default="auto")
    assert (point.relinquish_default, point.relinquish_value) == ("auto", 2)


def _problems(default: object) -> list[str]:
    doc = {"site": {"id": "hq"}, "equipment": [{"id": "ahu-1", "points": [
        {"name": "mode", "kind": "enum", "states": list(STATES), "writable": True,
         "relinquish_default": default}]}]}
    return [message for _at, message in check_site(doc, {"sim"})]


@pytest.mark.parametrize("default", ["auto", 1, 3])
def test_a_relinquish_default_may_be_a_label_or_a_state_number(default):
    assert _problems(default) == []


@pytest.mark.parametrize("default", [0, 4, "party"])
def test_a_relinquish_default_that_is_no_state_says_what_is_expected(default):
    assert _problems(default) == [
        f"relinquish_default {default!r} is not a state of this enum point: expected one of "
        "'off', 'auto', 'manual', or its number (1 to 3)"]


def test_an_enum_schedule_refuses_state_0_and_says_states_count_from_1(tmp_path):
    from openbms.config import load_sites
    from openbms.errors import ConfigError

    (tmp_path / "hq.yaml").write_text("""\
site: {id: hq, timezone: UTC}
equipment:
  - id: ahu-1
    points:
      - {name: mode, kind: enum, states: ["off", auto, manual], writable: true, relinquish_default: "off"}
schedules:
  - id: mode
    kind: enum
    targets: [hq/ahu-1/mode]
    weekly:
      monday: [{time: "07:00", value: 0}, {time: "08:00", value: 2}, {time: "19:00", value: "off"}]
""")
    with pytest.raises(ConfigError) as err:
        load_sites(tmp_path)
    (issue,) = err.value.issues
    assert issue.line == 11
    assert "0 does not fit a 'enum' schedule: expected a state: its number (from 1, the first state), " \
           "or its label as text" in issue.message


def test_an_enum_schedule_value_that_is_no_state_of_its_target_is_refused_at_load(tmp_path):
    # Before: refused only at run time, by the arbiter, when the schedule first wrote it.
    from openbms.config import load_sites
    from openbms.errors import ConfigError

    (tmp_path / "hq.yaml").write_text("""\
site: {id: hq, timezone: UTC}
equipment:
  - id: ahu-1
    points:
      - {name: mode, kind: enum, states: ["off", auto, manual], writable: true, relinquish_default: "off"}
schedules:
  - id: mode
    kind: enum
    default: holiday
    targets: [hq/ahu-1/mode]
    weekly:
      monday: [{time: "07:00", value: 4}, {time: "08:00", value: 2}, {time: "19:00", value: "off"}]
""")
    with pytest.raises(ConfigError) as err:
        load_sites(tmp_path)
    found = sorted((i.line, i.message) for i in err.value.issues)
    assert found == [
        (9, "'holiday' is not a state of 'hq/ahu-1/mode': expected one of 'off', 'auto', 'manual', "
            "or its number (1 to 3)"),
        (12, "4 is not a state of 'hq/ahu-1/mode': expected one of 'off', 'auto', 'manual', "
             "or its number (1 to 3)"),
    ]
