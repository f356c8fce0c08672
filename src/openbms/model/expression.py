"""A safe evaluator for alarm expressions, built on Python's ``ast`` with a whitelist.

An expression reads like Python over point values. Point ids contain ``/`` and
``-``, so they are written in backquotes::

    `hq/ahu-1/sat` > `hq/ahu-1/sat-sp` + 3 and `hq/ahu-1/fan-s`

Allowed: numbers, strings, ``true``/``false`` (or ``True``/``False``), point
references, comparisons (chains too), ``+ - * / // %``, unary ``-``/``+``,
``and``/``or``/``not``, and the functions ``abs``, ``min`` and ``max``.
Everything else (attribute access, subscripts, other names and calls,
lambdas, comprehensions, ``**``) is refused when the expression is compiled,
with its line and column, so nothing unexpected ever runs. Compiling builds a
tree of closures once; evaluating one costs a few function calls.

Evaluation is bounded, because it runs on the event loop for every sample:
arithmetic, ordering comparisons, ``abs``, ``min`` and ``max`` take numbers
only (text may only be compared with ``==``/``!=``; ``'a' * 10**9`` or
``'%.9999999f' % 1`` would otherwise block the loop or exhaust memory), an
integer result larger than ``MAX_INT_BITS`` bits is unknown, and the tree may
be at most ``MAX_DEPTH`` levels deep and ``MAX_NODES`` nodes large.
"""

from __future__ import annotations

import ast
import io
import itertools
import operator
import re
import threading
import tokenize
from collections.abc import Callable, Mapping
from typing import Any

from openbms.errors import OpenBMSError
from openbms.model.sample import Value

#: Held around every ``ast.parse``: CPython before 3.11.8 and 3.12.1 (gh-106905) may fail with
#: "SystemError: AST constructor recursion depth mismatch" when two threads build Python syntax
#: trees at once (two API requests validating expressions in worker threads). Reentrant: a
#: caller may hold it around code that parses here too.
AST_LOCK = threading.RLock()

__all__ = ["FUNCTIONS", "Expression", "ExpressionError"]

#: The only functions an expression may call.
FUNCTIONS: dict[str, Callable[..., Any]] = {"abs": abs, "min": min, "max": max}

MAX_LENGTH = 2000
#: Nesting limit of the syntax tree (``a + b + …`` nests one level per ``+``): compiling and
#: evaluating recurse, so an unbounded depth would end in RecursionError.
MAX_DEPTH = 150
#: Size limit of the syntax tree (points, constants, operators, calls).
MAX_NODES = 1500
#: An integer beyond this many bits is no measurement: the result is unknown (no huge-number arithmetic).
MAX_INT_BITS = 256

_CONSTANTS = {"true": True, "false": False, "True": True, "False": False}
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_POINT_ID = re.compile(r"[A-Za-z0-9_.:/-]+")
_UNREADABLE = re.compile("[\x00\ud800-\udfff]")


def _number(x: Any) -> int | float:
    """``x`` when it is a number (bools count, as in Python), else TypeError: the result is unknown."""
    if isinstance(x, int | float):
        if isinstance(x, int) and x.bit_length() > MAX_INT_BITS:
            raise OverflowError("the number is too large")
        return x
    raise TypeError(f"{type(x).__name__} is not a number")


def _numeric(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """``op`` on numbers only, its integer results bounded: text never repeats nor %-formats."""

    def apply(a: Any, b: Any) -> Any:
        return _number(op(_number(a), _number(b)))

    return apply


def _numeric_call(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (abs, min, max) on numbers only: ``max('a', 'b')`` is unknown, like text arithmetic."""

    def call(*args: Any) -> Any:
        return func(*(_number(a) for a in args))

    return call


_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: _numeric(operator.add),
    ast.Sub: _numeric(operator.sub),
    ast.Mult: _numeric(operator.mul),
    ast.Div: _numeric(operator.truediv),
    ast.FloorDiv: _numeric(operator.floordiv),
    ast.Mod: _numeric(operator.mod),
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: _numeric(operator.lt),
    ast.LtE: _numeric(operator.le),
    ast.Gt: _numeric(operator.gt),
    ast.GtE: _numeric(operator.ge),
}
_WHAT = {
    ast.Attribute: "attribute access",
    ast.Subscript: "a subscript",
    ast.Lambda: "a lambda",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.NamedExpr: "assignment (:=)",
    ast.Starred: "a *argument",
    ast.JoinedStr: "an f-string",
    ast.IfExp: "'x if c else y'",
    ast.List: "a list",
    ast.Tuple: "a tuple",
    ast.Dict: "a dict",
    ast.Set: "a set",
    ast.Await: "await",
    ast.Yield: "yield",
}

_Fn = Callable[[Mapping[str, Value]], Any]


class ExpressionError(OpenBMSError, ValueError):
    """An alarm expression is malformed or uses something not allowed; says where (1-based)."""

    def __init__(self, message: str, line: int = 1, column: int = 1, multiline: bool = False) -> None:
        self.line = line
        self.column = column
        where = f"line {line}, column {column}" if multiline else f"column {column}"
        super().__init__(f"{where}: {message}")


class Expression:
    """A compiled alarm expression: ``Expression(text).evaluate(values)``.

    ``points`` lists the point ids it reads, in order of first use.
    ``evaluate`` returns ``None`` (unknown) when a referenced point has no
    value in ``values`` (or ``None``), or when the arithmetic fails (division
    by zero, arithmetic on text, ordering text and numbers, a number out of
    range): an unknown result changes no alarm.
    """

    __slots__ = ("_fn", "_lead", "_refs", "_source", "points", "text")

    def __init__(self, text: str) -> None:
        if len(text) > MAX_LENGTH:
            raise ExpressionError(f"the expression is longer than {MAX_LENGTH} characters")
        self.text = text
        if not text.strip():
            raise ExpressionError("the expression is empty")
        if bad := _UNREADABLE.search(text):
            # A NUL would stop the parser; a lone surrogate (JSON may carry "\ud800") cannot be encoded.
            raise _error_at(text, bad.start(), f"character U+{ord(bad.group()):04X} is not allowed in "
                            "an expression")
        # One line of the same length: a YAML block may span lines, and every index still maps back.
        source, self._refs = _substitute(text)
        self._source = source = source.replace("\r", " ").replace("\n", " ")
        stripped = source.lstrip(" \t")
        self._lead = len(source) - len(stripped)  # leading blanks would be an "unexpected indent"
        # `1and x`, `'\d'`: Python warns and goes on, once per process and onto stderr, or refuses
        # them where warnings are errors. Refuse them always, at their column, found in the tokens:
        # changing the warning filters around ast.parse would change them for every thread.
        _refuse_warned(text, stripped, self._lead)
        try:
            with AST_LOCK:
                tree = ast.parse(stripped, mode="eval")
        except SyntaxError as err:
            if not err.offset:  # Python gives no column when the text ends too early
                raise _error_at(text, len(text.rstrip()), "syntax error: the expression is incomplete") \
                    from None
            message = f"syntax error: {err.msg or 'invalid syntax'}"
            raise _error_at(text, self._lead + err.offset - 1, message) from None
        except RecursionError:
            raise ExpressionError(f"the expression is nested too deeply (at most {MAX_DEPTH} levels)") \
                from None
        except (ValueError, MemoryError) as err:
            raise ExpressionError(f"cannot parse the expression: {err}") from None
        for token in tokenize.generate_tokens(io.StringIO(stripped).readline):
            if token.type == tokenize.COMMENT:
                raise _error_at(text, self._lead + token.start[1], "comments (#) are not allowed")
        self._check_size(tree.body)
        points: dict[str, None] = {}
        try:
            self._fn = self._compile(tree.body, points)
        except RecursionError:  # _check_size keeps well below the limit; this is the last line of defence
            raise ExpressionError(f"the expression is nested too deeply (at most {MAX_DEPTH} levels)") \
                from None
        self.points: tuple[str, ...] = tuple(points)
        del self._refs, self._source, self._lead

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    def evaluate(self, values: Mapping[str, Value]) -> Value:
        """The value of the expression, or ``None`` when it cannot be known."""
        for p in self.points:
            if values.get(p) is None:
                return None
        try:
            result: Value = self._fn(values)
        except (ArithmeticError, TypeError, ValueError, MemoryError, RecursionError):
            return None
        if isinstance(result, int) and result.bit_length() > MAX_INT_BITS:
            return None  # a point's own huge value, passed through untouched: no measurement either
        return result

    # ------------------------------------------------------------------ compiling

    def _check_size(self, root: ast.AST) -> None:
        """Refuse a tree deeper than ``MAX_DEPTH`` or larger than ``MAX_NODES``, without recursing."""
        stack: list[tuple[ast.AST, int]] = [(root, 1)]
        nodes = 0
        while stack:
            node, depth = stack.pop()
            if isinstance(node, ast.expr_context | ast.operator | ast.unaryop | ast.cmpop | ast.boolop):
                continue  # Load, Add, Not…: part of their parent, not a level of their own
            nodes += 1
            if depth > MAX_DEPTH:
                raise self._error(node, f"the expression is nested too deeply (at most {MAX_DEPTH} levels)")
            if nodes > MAX_NODES:
                raise self._error(node, f"the expression is too large (at most {MAX_NODES} terms)")
            stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))

    def _error(self, node: ast.AST, message: str) -> ExpressionError:
        # ast columns count UTF-8 bytes; people count characters.
        offset = self._lead + getattr(node, "col_offset", 0)
        index = len(self._source.encode()[:offset].decode(errors="ignore"))
        return _error_at(self.text, index, message)

    def _compile(self, node: ast.AST, points: dict[str, None]) -> _Fn:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
                raise self._error(node, "the number is too large")
            if isinstance(value, bool | int | float | str):
                return lambda _v: value
            raise self._error(node, f"constant {value!r} is not allowed")
        if isinstance(node, ast.Name):
            point = self._refs.get(self._lead + node.col_offset)
            if point is not None:
                points.setdefault(point)
                return lambda v: v[point]
            if node.id in _CONSTANTS:
                const = _CONSTANTS[node.id]
                return lambda _v: const
            hint = (f"; '{node.id}' is a function, call it like {node.id}(a, b)"
                    if node.id in FUNCTIONS else "; write a point id in backquotes, e.g. `site/ahu-1/sat`")
            raise self._error(node, f"unknown name '{node.id}'{hint}")
        if isinstance(node, ast.BoolOp):
            parts = [self._compile(v, points) for v in node.values]
            if isinstance(node.op, ast.And):
                return lambda v: all(p(v) for p in parts)
            return lambda v: any(p(v) for p in parts)
        if isinstance(node, ast.UnaryOp):
            inner = self._compile(node.operand, points)
            if isinstance(node.op, ast.Not):
                return lambda v: not inner(v)
            if isinstance(node.op, ast.USub):
                return lambda v: -_number(inner(v))
            if isinstance(node.op, ast.UAdd):
                return lambda v: +_number(inner(v))
            raise self._error(node, "the operator '~' is not allowed")
        if isinstance(node, ast.BinOp):
            op = _BINARY.get(type(node.op))
            if op is None:
                symbol = {ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^",
                          ast.LShift: "<<", ast.RShift: ">>", ast.MatMult: "@"}.get(type(node.op), "?")
                raise self._error(node, f"the operator '{symbol}' is not allowed")
            left = self._compile(node.left, points)
            right = self._compile(node.right, points)
            return lambda v: op(left(v), right(v))
        if isinstance(node, ast.Compare):
            first = self._compile(node.left, points)
            ops: list[Callable[[Any, Any], Any]] = []
            for cmp in node.ops:
                fn = _COMPARE.get(type(cmp))
                if fn is None:
                    raise self._error(node, "only == != < <= > >= comparisons are allowed")
                ops.append(fn)
            rest = [self._compile(c, points) for c in node.comparators]
            pairs = list(zip(ops, rest, strict=True))

            def compare(v: Mapping[str, Value]) -> bool:
                left = first(v)
                for fn, get in pairs:
                    right = get(v)
                    if not fn(left, right):
                        return False
                    left = right
                return True

            return compare
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                raise self._error(node.func, "attribute access is not allowed in an alarm expression")
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS \
                    or self._lead + node.func.col_offset in self._refs:
                name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise self._error(node, f"calling '{name}' is not allowed (only {', '.join(FUNCTIONS)})")
            if node.keywords:
                raise self._error(node.keywords[0], "keyword arguments are not allowed")
            if not node.args:
                raise self._error(node, f"{node.func.id}() needs at least one argument")
            if node.func.id == "abs" and len(node.args) != 1:
                raise self._error(node, "abs() takes one argument")
            func = _numeric_call(FUNCTIONS[node.func.id])
            args = [self._compile(a, points) for a in node.args]
            if len(args) == 1 and node.func.id != "abs":
                raise self._error(node, f"{node.func.id}() needs at least two arguments")
            return lambda v: func(*(a(v) for a in args))
        what = _WHAT.get(type(node), type(node).__name__)
        raise self._error(node, f"{what} is not allowed in an alarm expression")


#: What may follow a backslash in a string literal without Python warning about it.
_ESCAPES = frozenset("\n\\'\"abfnrtv01234567xNuU")
_LITERALS = {"0x": "hexadecimal", "0o": "octal", "0b": "binary"}


def _refuse_warned(text: str, source: str, lead: int) -> None:
    """Refuse what Python's parser only warns about: a number run into a name, an invalid escape."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return  # ast.parse reports it, with its column
    for prev, tok in itertools.pairwise(tokens):
        if prev.type == tokenize.NUMBER and tok.type == tokenize.NAME and prev.end == tok.start:
            kind = _LITERALS.get(prev.string[:2].lower(), "decimal")
            raise _error_at(text, lead + prev.start[1], f"syntax error: invalid {kind} literal")
    for tok in tokens:
        if tok.type != tokenize.STRING:
            continue
        prefix = tok.string[:len(tok.string) - len(tok.string.lstrip("rRbBuUfF"))]
        if "r" in prefix.lower():
            continue
        for escape in re.finditer(r"\\(.)", tok.string, re.S):
            if escape.group(1) not in _ESCAPES:
                raise _error_at(text, lead + tok.start[1],
                                f"syntax error: invalid escape sequence '\\{escape.group(1)}'")


def _error_at(text: str, index: int, message: str) -> ExpressionError:
    """An error at a 0-based character index of ``text``, as a 1-based line and column."""
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return ExpressionError(message, line, column, "\n" in text)


def _substitute(text: str) -> tuple[str, dict[int, str]]:
    """Replace each backquoted point id by a name of the same length, remembering where.

    A name is ``_`` and one or two characters, a backquoted id at least three,
    so padding keeps every index of the text, and every column the parser
    reports, right. Positions are UTF-8 byte offsets, as ``ast`` reports
    them. A name is a point reference only at a remembered position, so a
    bare name in the text can never pose as one.
    """
    out: list[str] = []
    refs: dict[int, str] = {}
    i = n = 0
    while (j := text.find("`", i)) >= 0:
        out.append(text[i:j])
        k = text.find("`", j + 1)
        if k < 0:
            raise _error_at(text, j, "unterminated backquote: a point id is written `site/equip/point`")
        point = text[j + 1:k]
        if not _POINT_ID.fullmatch(point):
            raise _error_at(text, j, f"`{point}` is not a point id (letters, digits and _ . : / - only)")
        name = "_" + _ALPHABET[n % 62] + (_ALPHABET[n // 62] if n >= 62 else "")
        n += 1
        refs[len("".join(out).encode())] = point
        out.append(name.ljust(k + 1 - j, "_"))
        i = k + 1
    out.append(text[i:])
    return "".join(out), refs
