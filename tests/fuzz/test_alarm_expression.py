"""Property-based fuzzing of alarm expressions: compiled or a placed error; evaluation bounded.

Expressions come from site files and the API, and are evaluated on the event
loop for every sample, so any text must compile or be refused with a line and
column, and any compiled expression must evaluate, on any inputs, to a plain
value of bounded size (or None, unknown) without raising.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .targets import alarm_expression

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

POINTS = ["`a/b/c`", "`hq/ahu-1/sat`", "`x`", "`a b`", "``", "`"]
TOKENS = [
    *POINTS, "1", "0", "-1", "1.5", "1e308", "1e-308", "9" * 80, "0x10", "1_0", "'t'", '"u"', "'%s'",
    "true", "false", "None", "nan", "inf", " and ", " or ", "not ", " + ", " - ", " * ", " / ", " // ",
    " % ", " ** ", " == ", " != ", " < ", " <= ", " > ", " >= ", " is ", " in ", " if ", " else ",
    "(", ")", "[", "]", "{", "}", ",", ":", ".", "abs(", "min(", "max(", "round(", "__import__(", "x",
    "lambda: ", "#", "\\", "\n", "\r", "\t", " ", "\x00", "\ud800", "é", "€", "𝔁", "\u2028", "\f",
    "f'", "b'", "=", ":=", "*", "@", "~", ";", "yield ", "await ",
]

expression_like = st.lists(st.sampled_from(TOKENS), max_size=30).map("".join)
point_values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                         st.integers(min_value=2**200, max_value=2**400))


@FUZZ
@given(st.text(max_size=200))
def test_any_text_compiles_or_is_a_placed_error(text):
    alarm_expression(text)


@FUZZ
@given(expression_like, st.data())
def test_expression_shaped_text_compiles_or_is_refused_and_evaluates_on_any_values(text, data):
    expr = alarm_expression(text)
    if expr is not None:
        values = {p: data.draw(point_values) for p in expr.points}
        alarm_expression(text, values)


@FUZZ
@given(st.recursive(
    st.sampled_from(["`a/b/c`", "`a/b/d`", "2", "0", "-3.5", "1e308", "'on'", "true", "9" * 70]),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%", "<", "==", "and", "or"]),
                  inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda x: f"-({x})"), inner.map(lambda x: f"(not {x})"),
        st.lists(inner, min_size=2, max_size=4).map(lambda xs: f"max({', '.join(xs)})"),
        inner.map(lambda x: f"abs({x})")),
    max_leaves=40), st.data())
def test_well_formed_expressions_compile_and_evaluate_to_bounded_values(text, data):
    expr = alarm_expression(text)
    assert expr is not None, text
    alarm_expression(text, {p: data.draw(point_values) for p in expr.points})
