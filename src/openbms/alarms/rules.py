"""Alarm rules: the ``alarms:`` list of a site file read and checked as a whole.

The rule models themselves are part of the site model
(``openbms.model.alarm``); this module validates a bare list of them and finds
the problems that need every rule and the site's points.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import TypeAdapter

from openbms.model.alarm import (
    AlarmRule,
    ChangeOfStateRule,
    CommRule,
    ExpressionRule,
    HighLimitRule,
    LowLimitRule,
    StateRule,
)
from openbms.model.fields import state_number

__all__ = [
    "AlarmRule",
    "ChangeOfStateRule",
    "CommRule",
    "ExpressionRule",
    "HighLimitRule",
    "LowLimitRule",
    "StateRule",
    "check_rules",
    "parse_rules",
]

_RULES: TypeAdapter[list[AlarmRule]] = TypeAdapter(list[AlarmRule])


def parse_rules(data: Iterable[Any]) -> list[AlarmRule]:
    """Validate the ``alarms:`` list of a site file (raises pydantic's ``ValidationError``)."""
    return _RULES.validate_python(list(data))


def check_rules(rules: Iterable[AlarmRule], known_points: Iterable[str] | None = None) -> list[str]:
    """Problems that need all the rules (and the site's points): duplicate ids, unknown points,
    and (given the points by id) alarm states that are no state of their enum point."""
    problems: list[str] = []
    seen: set[str] = set()
    known = set(known_points) if known_points is not None else None
    for rule in rules:
        if rule.id in seen:
            problems.append(f"alarm rule '{rule.id}' is defined twice")
        seen.add(rule.id)
        if known is not None:
            for p in dict.fromkeys((*rule.points, rule.display_point)):
                if p not in known:
                    problems.append(f"alarm rule '{rule.id}' refers to unknown point '{p}'")
        if isinstance(rule, StateRule) and isinstance(known_points, Mapping):
            problems += _enum_state_problems(rule, known_points.get(rule.point))
    return problems


def _enum_state_problems(rule: StateRule, point: Any) -> list[str]:
    """An enum point's alarm states must be its states: a label, or its number from 1."""
    if getattr(point, "kind", None) != "enum":
        return []
    states = tuple(point.states or ())
    labels = ", ".join(repr(s) for s in states)
    return [f"alarm rule '{rule.id}': {x!r} is not a state of enum point '{rule.point}': expected "
            f"one of {labels}, or its number (1 to {len(states)}: enum states count from 1)"
            for x in rule.alarm_states if state_number(states, x) is None]
