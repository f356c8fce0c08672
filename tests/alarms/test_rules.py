"""Alarm rule configuration: what a site file's ``alarms:`` list accepts and refuses."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from openbms.alarms import check_rules, parse_rules
from openbms.model.alarm import CommRule, ExpressionRule, HighLimitRule


def test_every_rule_type_parses_with_its_defaults():
    rules = parse_rules([
        {"id": "sat-high", "type": "high", "point": "hq/ahu-1/sat", "limit": 30, "class": "comfort"},
        {"id": "sat-low", "type": "low", "point": "hq/ahu-1/sat", "limit": 10, "deadband": 1},
        {"id": "filter", "type": "state", "point": "hq/ahu-1/filter", "alarm_states": [True, "dirty", 3]},
        {"id": "door", "type": "change_of_state", "point": "hq/door-1/open"},
        {"id": "ahu-comm", "type": "comm", "point": "hq/ahu-1/sat"},
        {"id": "sat-dev", "type": "expression", "expression": "`hq/ahu-1/sat` > `hq/ahu-1/sat-sp` + 3"},
    ])
    high = rules[0]
    assert isinstance(high, HighLimitRule)
    assert (high.priority, high.alarm_class, high.enabled, high.deadband, high.on_delay_s) == \
        (100, "comfort", True, 0.0, 0.0)
    assert rules[1].alarm_class == "maintenance"
    assert rules[2].alarm_states == (True, "dirty", 3)  # type: ignore[union-attr]
    assert rules[3].event_type and not rules[0].event_type
    comm = rules[4]
    assert isinstance(comm, CommRule) and comm.silence_after == 60.0 and comm.statuses == ("stale", "offline")
    expr = rules[5]
    assert isinstance(expr, ExpressionRule)
    assert expr.points == ("hq/ahu-1/sat", "hq/ahu-1/sat-sp") and expr.display_point == "hq/ahu-1/sat"


def test_comm_silence_can_be_longer_or_off():
    longer, off = parse_rules([
        {"id": "a", "type": "comm", "point": "a/b/c", "delay_s": 60, "silence_s": 900},
        {"id": "b", "type": "comm", "point": "a/b/c", "detect_silence": False},
    ])
    assert longer.silence_after == 900 and off.silence_after is None  # type: ignore[union-attr]


@pytest.mark.parametrize(("rule", "where", "message"), [
    ({"id": "x", "type": "high", "point": "a/b/c", "limit": 1, "priority": 0}, "priority", "greater than"),
    ({"id": "x", "type": "high", "point": "a/b/c", "limit": 1, "priority": 256}, "priority", "less than"),
    ({"id": "x", "type": "high", "point": "a/b/c", "limit": 1, "deadband": -1}, "deadband", "greater than"),
    ({"id": "x", "type": "high", "point": "a/b/c", "limit": 1, "colour": "red"}, "colour", "Extra inputs"),
    ({"id": "x", "type": "high", "point": "a/b/c"}, "limit", "Field required"),
    ({"id": "x", "type": "siren", "point": "a/b/c"}, "", "does not match any of the expected tags"),
    ({"id": "X Y", "type": "high", "point": "a/b/c", "limit": 1}, "id", "should match pattern"),
    ({"id": "x", "type": "state", "point": "a/b/c", "alarm_states": []}, "alarm_states", "at least 1"),
    ({"id": "x", "type": "high", "point": "a/b/c", "limit": 1, "message": "{point} {colour}"},
     "message", "unknown field {colour}"),
    ({"id": "x", "type": "expression", "expression": "`a/b/c` > __import__('os')"},
     "expression", "column 11: calling '__import__' is not allowed"),
    ({"id": "x", "type": "expression", "expression": "1 > 2"}, "expression", "reads no point"),
    ({"id": "x", "type": "high", "point": "a/b/c", "limit": 1, "flapping": {"changes": 0}},
     "changes", "greater than or equal to 1"),
])
def test_bad_rules_are_refused_with_the_field(rule, where, message):
    with pytest.raises(ValidationError) as err:
        parse_rules([rule])
    text = str(err.value)
    assert message in text
    assert where in text


def test_check_rules_finds_duplicates_and_unknown_points():
    rules = parse_rules([
        {"id": "a", "type": "high", "point": "hq/ahu-1/sat", "limit": 30},
        {"id": "a", "type": "expression", "expression": "`hq/ahu-1/sat` > `hq/ahu-1/nope`"},
    ])
    assert check_rules(rules, known_points=["hq/ahu-1/sat"]) == [
        "alarm rule 'a' is defined twice",
        "alarm rule 'a' refers to unknown point 'hq/ahu-1/nope'",
    ]
    assert check_rules(rules[:1]) == []
