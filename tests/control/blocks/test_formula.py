"""The expression block: a formula over named inputs, in the alarm engine's safe language plus 'if … else'."""

from __future__ import annotations

import pytest

from openbms.control.blocks import create_block
from openbms.control.blocks.formula import MAX_FORMULA, FormulaError, compile_formula
from openbms.control.programs import Program, catalog_from_sites, validate_program
from openbms.model.expression import MAX_DEPTH
from tests.control.programs.rig import Rig, pid, program, site

A, B, OUT1 = pid("a"), pid("b"), pid("out1")


def test_the_names_a_formula_uses_are_the_blocks_inputs_in_order_of_first_use():
    block = create_block("expression", {"formula": "max(oat, rat) * 0.5 if occupied else fallback"})
    assert list(block.active_inputs()) == ["oat", "rat", "occupied", "fallback"]  # as in the text
    assert all(p.required and p.type == "any" for p in block.active_inputs().values())


@pytest.mark.parametrize(("formula", "inputs", "out"), [
    ("max(oat, rat) * 0.5", {"oat": 10.0, "rat": 21.0}, 10.5),
    ("min(a, b) - abs(c)", {"a": 3, "b": 5, "c": -1}, 2),
    ("hi if occupied else lo", {"hi": 24, "lo": 18, "occupied": True}, 24),
    ("hi if occupied else lo", {"hi": 24, "lo": 18, "occupied": False}, 18),
    ("a > b + 2 and not flag", {"a": 10, "b": 7, "flag": False}, True),
    ("a // 4 + a % 4", {"a": 10}, 4),
    ("1e3 + a", {"a": 1}, 1001.0),
    ("a / b", {"a": 1, "b": 0}, None),  # division by zero: unknown, no error
    ("a + 1", {"a": None}, None),  # an unknown input: an unknown output
    ("a * 2", {"a": "text"}, None),  # arithmetic on text: unknown
])
def test_evaluation(formula, inputs, out):
    block = create_block("expression", {"formula": formula})
    result = block.step(0.0, inputs)["out"]
    assert result == out and type(result) is type(out)


@pytest.mark.parametrize(("formula", "where", "what"), [
    ("a.real + 1", "column 1", "attribute access is not allowed"),
    ("oat + rat.x", "column 7", "attribute access is not allowed"),
    ("a ** 2", "column 1", "the operator '**' is not allowed"),
    ("open(a)", "column 1", "calling 'open' is not allowed (only abs, min, max)"),
    ("d[0] + a", "column 1", "a subscript is not allowed"),
    ("a +", "column 4", "syntax error: the expression is incomplete"),
    ("a +\n b.c", "line 2, column 2", "attribute access is not allowed"),
    ("`a` + 1", "column 1", "backquotes are not used in a formula"),
    ("[x for x in a]", "column 1", "a comprehension is not allowed"),
    ("lambda: a", "column 1", "a lambda is not allowed"),
])
def test_a_formula_that_cannot_run_says_where_and_what(formula, where, what):
    with pytest.raises(FormulaError) as caught:
        compile_formula(formula)
    assert str(caught.value).startswith(f"formula, {where}: {what}")


def test_size_limits():
    deep = "+".join(["a"] * (MAX_DEPTH + 10))
    assert len(deep) <= MAX_FORMULA
    with pytest.raises(FormulaError, match="nested too deeply"):
        compile_formula(deep)
    with pytest.raises(FormulaError, match=f"longer than {MAX_FORMULA} characters"):
        compile_formula("a" * (MAX_FORMULA + 1))
    # The longest formula of one-letter names grows threefold inside and still compiles.
    names = "+".join("abcdefghij"[i % 10] for i in range(MAX_FORMULA // 2))
    wide = f"min({names[:MAX_FORMULA - 6]})".replace("+", ",")
    assert len(wide) <= MAX_FORMULA
    assert compile_formula(wide)[1] == tuple("abcdefghij")


def _formula_program(formula: str, wires: list[dict]) -> Program:
    return program(inputs=[{"id": "x", "point": A}, {"id": "y", "point": B}],
                   blocks=[{"id": "f", "block": "expression", "params": {"formula": formula}}],
                   outputs=[{"id": "o", "point": OUT1}],
                   wires=[*wires, {"from": "f.out", "to": "o"}])


def test_validation_refuses_a_bad_formula_and_an_unwired_name_with_their_paths():
    catalog = catalog_from_sites([site()])
    bad = validate_program(_formula_program("x.y", [{"from": "x", "to": "f.x"}]), catalog)
    assert [(i.path, i.message) for i in bad] == [
        ("blocks[0].params", "block 'expression': invalid parameters: formula, column 1: "
                             "attribute access is not allowed")]
    unwired = validate_program(_formula_program("oat - sat", [{"from": "x", "to": "f.oat"}]), catalog)
    assert [(i.path, i.message) for i in unwired] == [
        ("blocks[0]", "block 'f': required input 'sat' is not wired")]
    wrong_port = validate_program(_formula_program("oat", [{"from": "x", "to": "f.oaf"}]), catalog)
    assert "block 'f' has no input 'oaf'; did you mean 'oat'?" in [i.message for i in wrong_port]


async def test_the_engine_runs_a_formula_block_and_writes_its_result():
    rig = Rig()
    rig.engine.load(_formula_program("(oat + sat) / 2 if oat > 0 else sat",
                                     [{"from": "x", "to": "f.oat"}, {"from": "y", "to": "f.sat"}]), 1)
    await rig.publish({A: 10.0, B: 20.0})
    assert rig.slot(OUT1) == 15.0
    await rig.publish({A: -5.0})
    assert rig.slot(OUT1) == 20.0
