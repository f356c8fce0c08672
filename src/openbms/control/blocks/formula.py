"""The ``expression`` block: a small formula over named inputs, for the cases no other block fits.

The formula is the alarm engine's safe expression language
(:mod:`openbms.model.expression`) with one change: its names are the block's
inputs, written bare (``max(oat, rat) * 0.5``), where an alarm writes point
ids in backquotes. Plus the conditional ``a if c else b``. So: numbers,
``true``/``false``, ``+ - * / // %``, comparisons, ``and``/``or``/``not``,
``abs``/``min``/``max`` and ``if … else``; no attribute access, subscripts,
other calls, ``**`` or comprehensions. Its size is bounded (the language's
``MAX_FORMULA`` characters, ``MAX_NODES`` terms, ``MAX_DEPTH`` levels) and it
has no loops, so one evaluation costs a bounded few function calls; the
program engine's CPU budget is the last line of defence.

A bad formula is refused when the program is validated (at save time), with
where it is wrong in plain words: ``formula, column 9: attribute access is
not allowed``.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import pydantic

from openbms.control.blocks.base import Block, BlockParams, Port, Value
from openbms.model.expression import FUNCTIONS, MAX_LENGTH, Expression, ExpressionError

__all__ = ["MAX_FORMULA", "Formula", "FormulaError", "FormulaParams", "compile_formula"]

#: Characters of a formula: each name grows by two backquotes inside, and the language takes MAX_LENGTH.
MAX_FORMULA = MAX_LENGTH * 3 // 10

#: Names that are the language's own, never an input.
_RESERVED = frozenset({"true", "false", *keyword.kwlist, *FUNCTIONS})
#: A string literal, a backquote, or a name (group 1) and whether a call's parenthesis follows (group 2).
_TOKENS = re.compile(r"""'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`[^`]*`"""
                     r"""|\b([A-Za-z_][A-Za-z0-9_]*)\b(\s*\()?""")


class FormulaError(ValueError):
    """A formula that cannot be compiled; ``line`` and ``column`` (1-based) say where in the text."""

    def __init__(self, message: str, line: int, column: int, multiline: bool) -> None:
        self.line = line
        self.column = column
        self.reason = message
        where = f"line {line}, column {column}" if multiline else f"column {column}"
        super().__init__(f"formula, {where}: {message}")


class _Compiled(Expression):
    """The expression language with ``a if c else b``."""

    __slots__ = ()

    def _compile(self, node: ast.AST, points: dict[str, None]) -> Callable[[Mapping[str, Value]], Any]:
        if isinstance(node, ast.IfExp):
            body = self._compile(node.body, points)  # in the text's order: the inputs' order
            test = self._compile(node.test, points)
            orelse = self._compile(node.orelse, points)
            return lambda v: body(v) if test(v) else orelse(v)
        return super()._compile(node, points)


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def compile_formula(text: str) -> tuple[Expression, tuple[str, ...]]:
    """The compiled formula and its input names in order of first use; ``FormulaError`` says where."""
    if len(text) > MAX_FORMULA:
        raise FormulaError(f"the formula is longer than {MAX_FORMULA} characters", 1, 1, False)
    out: list[str] = []
    origin: list[int] = []  # the index in ``text`` of every character of the rewritten text

    def keep(start: int, end: int) -> None:
        out.append(text[start:end])
        origin.extend(range(start, end))

    last = 0
    for match in _TOKENS.finditer(text):
        name = match.group(1)
        if name is None or match.group(2) or name in _RESERVED:
            continue  # a string, a backquote (refused below), a call or a word of the language
        keep(last, match.start(1))
        out.append(f"`{name}`")
        start = match.start(1)
        origin.extend([start, *range(start, match.end(1)), match.end(1) - 1])
        last = match.end(1)
    keep(last, len(text))
    origin.append(len(text))
    source = "".join(out)
    if "`" in text:
        index = text.index("`")
        raise FormulaError("backquotes are not used in a formula: write an input's name as it is",
                           *_position(text, index), "\n" in text)
    try:
        compiled = _Compiled(source)
    except ExpressionError as err:
        lines = source.split("\n")
        at = sum(len(s) + 1 for s in lines[:err.line - 1]) + err.column - 1
        index = origin[min(max(at, 0), len(origin) - 1)]
        message = str(err).split(": ", 1)[1].replace(" in an alarm expression", "")
        message = message.split("; write a point id")[0]  # the alarm's hint: a formula names inputs
        raise FormulaError(message, *_position(text, index), "\n" in text) from None
    return compiled, compiled.points


class FormulaParams(BlockParams):
    """``formula`` over input names (letters, digits and ``_``); the names it uses are the block's inputs."""

    formula: str = pydantic.Field(
        min_length=1, max_length=MAX_FORMULA,
        description="e.g. 'max(oat, rat) * 0.5' or 'hi if occupied else lo'; its names are the inputs")

    @pydantic.model_validator(mode="after")
    def _check_formula(self) -> FormulaParams:
        try:
            compile_formula(self.formula)
        except FormulaError as err:
            raise ValueError(str(err)) from None
        return self


class Formula(Block):
    """``out`` = the value of ``formula`` over the block's inputs, which are the names the formula uses.

    An input that is unknown (offline, unwired values are not allowed) makes
    ``out`` unknown, as does arithmetic that fails (division by zero, a
    number out of range). Comparisons and ``and``/``or`` give a bool,
    arithmetic a number.
    """

    kind: ClassVar[str] = "expression"
    inputs: ClassVar[dict[str, Port]] = {}
    outputs: ClassVar[dict[str, Port]] = {"out": Port("any")}
    dynamic_inputs: ClassVar[str | None] = "formula"
    Params: ClassVar[type[BlockParams]] = FormulaParams

    params: FormulaParams

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self._expression, names = compile_formula(self.params.formula)
        self._inputs = {name: Port("any") for name in names}

    def active_inputs(self) -> dict[str, Port]:
        return self._inputs

    def _compute(self, now: float, dt: float, inputs: dict[str, Value]) -> dict[str, Value]:
        return {"out": self._expression.evaluate(inputs)}
