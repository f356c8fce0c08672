"""Fuzz targets: one function per parser that takes untrusted input, and what it must never do.

Each target feeds its input to one parser and checks the contract it offers
to the rest of openbms; a broken contract is an ``AssertionError``, and any
other exception escaping is a defect in itself. The same functions run under
hypothesis (``test_*.py`` beside this file) and under atheris
(``run_atheris.py``), so a case either finds is a case for both.

* ``site_yaml(text)``: the site-file loader (``openbms.config``): YAML pass,
  schema and whole-site checks. Either a site or problems, each at a line and
  column inside the text; never an exception.
* ``rpm_ack(data)``: the BACnet ReadPropertyMultiple codec. Either results of
  plain Python values or ``WireError``; never another exception.
* ``alarm_expression(text, values)``: the alarm expression compiler and
  evaluator. Either a compiled expression whose evaluation gives a plain,
  bounded value (or None, unknown) for any inputs, or ``ExpressionError``
  with a line and column inside the text.

Nothing here imports pytest, hypothesis or atheris.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from openbms.config._yaml import parse
from openbms.config.loader import DEFECT, FALLBACK_DRIVERS, _check_document
from openbms.drivers.bacnet import wire
from openbms.model.expression import MAX_INT_BITS, Expression, ExpressionError
from openbms.model.site import SiteConfig

__all__ = ["alarm_expression", "rpm_ack", "site_yaml"]

_PLAIN = (type(None), bool, int, float, str)

#: Defects the fuzzers found in checks this suite does not own, reported and awaiting their fix
#: (each also has a regression test that the loader still answers with a problem, never a crash):
#: a schedule's ``timezone`` that is not text reaches ``zoneinfo`` (model/schedule.py);
#: a binding such as ``sim://a-[/b`` makes ``urlsplit`` raise ValueError (model/binding.py).
KNOWN_DEFECTS: tuple[str, ...] = ()  # messages of defects found and not fixed yet (none)


def _inside(text: str, line: int, column: int) -> bool:
    """Whether a 1-based (line, column) is a place in ``text`` (or just past its end)."""
    lines = text.split("\n")
    # PyYAML counts \r, \x85, \u2028 and \u2029 as line breaks too: a line may only be shorter.
    return 1 <= line <= len(text.splitlines()) + 2 and 1 <= column <= max(map(len, lines)) + 2


def site_yaml(text: str) -> SiteConfig | None:
    """Check ``text`` as a site file: the site, or None when it has problems (all placed)."""
    doc = parse(text)
    for (line, column), message in doc.issues:
        assert isinstance(message, str) and message, doc.issues
        assert _inside(text, line, column), (line, column, message)
    config, found = _check_document(doc, FALLBACK_DRIVERS)
    for (line, column), message in found:
        assert isinstance(message, str) and message, found
        assert not message.startswith(DEFECT) or any(k in message for k in KNOWN_DEFECTS), message
        assert _inside(text, line, column), (line, column, message)
    if not found:
        assert isinstance(config, SiteConfig), "no problem reported, yet no site"
        return config
    return None


def rpm_ack(data: bytes) -> dict[tuple[int, int], wire.ObjectResult] | None:
    """Decode ``data`` as an RPM acknowledgement: the results, or None for a WireError."""
    try:
        got = wire.decode_rpm_ack(data)
    except wire.WireError as err:
        assert str(err), "a WireError says what was wrong"
        return None
    for (otype, instance), (value, flags, error) in got.items():
        assert 0 <= otype < 1024 and 0 <= instance < 2**22
        assert isinstance(value, _PLAIN), value
        assert flags is None or (isinstance(flags, int) and 0 <= flags <= 255), flags
        assert error is None or isinstance(error, str)
    return got


def _check_error(text: str, err: ExpressionError) -> None:
    message = str(err)
    assert message.startswith(("column ", "line ")), message
    assert _inside(text, err.line, err.column), (err.line, err.column, message)


def alarm_expression(text: str, values: Mapping[str, Any] | None = None) -> Expression | None:
    """Compile ``text`` and evaluate it on ``values`` (by default, none known and then all 1.5)."""
    try:
        expr = Expression(text)
    except ExpressionError as err:
        _check_error(text, err)
        return None
    for given in ({}, {p: 1.5 for p in expr.points}, values or {}):
        result = expr.evaluate(given)
        assert isinstance(result, _PLAIN), result
        if isinstance(result, int):
            assert result.bit_length() <= MAX_INT_BITS, "an unbounded integer result"
    return expr
