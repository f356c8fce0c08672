"""Schema errors in plain words: pydantic's errors as (location, message, is-about-a-key).

Pydantic says "Input should be a valid number, unable to parse string as a
number" at ``('equipment', 0, 'points', 3, 'poll')``. A user wants "'poll'
must be a number, not 'fast'" at the line where they wrote it. This module
turns each error's ``loc`` into a location in the document (dropping the
union member names pydantic adds) and its type into a sentence that says
what was expected and what was given.
"""

from __future__ import annotations

import datetime as dt
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from openbms.config._yaml import Location
from openbms.model.site import SiteConfig

__all__ = ["SchemaIssue", "schema_issues"]

#: (location in the document, message, whether the problem is the key rather than its value)
SchemaIssue = tuple[Location, str, bool]

#: What each pydantic type error expected, in words.
_EXPECTED = {
    "float_parsing": "a number", "float_type": "a number", "finite_number": "a finite number",
    "int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
    "bool_parsing": "true or false", "bool_type": "true or false",
    "string_type": "text", "string_unicode": "text",
    "dict_type": "a mapping (key: value lines)", "model_type": "a mapping (key: value lines)",
    "model_attributes_type": "a mapping (key: value lines)",
    "tuple_type": "a list", "list_type": "a list",
}
_COMPARISONS = {"greater_than": ("gt", "greater than"), "greater_than_equal": ("ge", "at least"),
                "less_than": ("lt", "less than"), "less_than_equal": ("le", "at most")}
#: Entries of these lists are named by this key in messages ("point 'sat'").
_LISTS = {"spaces": ("space", "id"), "equipment": ("equipment", "id"), "points": ("point", "name")}


# ---------------------------------------------------------------------------- the model's shape


def _optional_inner(annotation: Any) -> Any:
    """``X`` for ``X | None`` and ``Annotated[X, ...]``; a real union is returned as it is."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _walk(loc: tuple[Any, ...], root: type[BaseModel] = SiteConfig) -> tuple[Location, Any]:
    """The document location of a pydantic ``loc``, and the annotation found there.

    A union of plain types (``float | bool | str``) reports one error per member
    with the member's name appended to ``loc``; those names are dropped.
    """
    out: list[str | int] = []
    annotation: Any = root
    steps = list(loc)
    while steps:
        step = steps.pop(0)
        annotation = _optional_inner(annotation)
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            # A union picked by a validator of its own (a calendar's date rules) reports the
            # chosen model's field, not the member's name: that step is in the document.
            member = next((m for m in map(_optional_inner, typing.get_args(annotation))
                           if _is_model(m) and isinstance(step, str) and step in m.model_fields), None)
            if member is None:
                annotation = None  # ``step`` names a union member: not part of the document
                continue
            annotation = member
        out.append(step)
        if _is_model(annotation):
            fields = annotation.model_fields
            annotation = fields[step].annotation if isinstance(step, str) and step in fields else None
        elif origin in (tuple, list):
            annotation = typing.get_args(annotation)[0]
        elif origin is dict:
            annotation = typing.get_args(annotation)[1]
        else:
            annotation = None
    return tuple(out), _optional_inner(annotation)


def _model_at(loc: Location, root: type[BaseModel] = SiteConfig) -> type[BaseModel] | None:
    """The model that describes the mapping at ``loc``."""
    _, annotation = _walk(loc, root)
    return annotation if _is_model(annotation) else None


# ---------------------------------------------------------------------------- words


def _given(value: Any) -> str:
    """What the user wrote, briefly."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "an empty value"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, dt.date | dt.datetime):
        return f"the date {value.isoformat()}"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…'"


def _entry_name(kind: str, key: str, entry: Any, index: int) -> str:
    name = entry.get(key) if isinstance(entry, Mapping) else None
    return f"{kind} {name!r}" if isinstance(name, str) else f"{kind} entry {index + 1}"


def _where(loc: Location, data: Any) -> str:
    """A location in words: "'history' of point 'sat' of equipment 'ahu-1'"."""
    parts: list[str] = []
    node = data
    i = 0
    while i < len(loc):
        step = loc[i]
        child = _child(node, step)
        nxt = loc[i + 1] if i + 1 < len(loc) else None
        if isinstance(step, str) and step in _LISTS and isinstance(nxt, int):
            kind, key = _LISTS[step]
            node = _child(child, nxt)
            parts.append(_entry_name(kind, key, node, nxt))
            i += 2
            continue
        if step == "drivers" and isinstance(nxt, str):
            parts.append(f"driver {nxt!r}")
            node = _child(child, nxt)
            i += 2
            continue
        parts.append(f"'{step}'" if isinstance(step, str) else f"entry {step + 1}")
        node = child
        i += 1
    return " of ".join(reversed(parts)) or "the top level"


def _subject(loc: Location, data: Any) -> str:
    """The thing an error is about, named by its key or its entry."""
    if not loc:
        return "the file"
    if isinstance(loc[-1], str):
        return f"'{loc[-1]}'"
    return _where(loc[-2:], _find(data, loc[:-2]))


def _child(node: Any, step: str | int) -> Any:
    if isinstance(node, Mapping):
        return node.get(step)
    if isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
        return node[step]
    return None


def _find(data: Any, loc: Location) -> Any:
    for step in loc:
        data = _child(data, step)
    return data


def _hint(expected: str, value: Any) -> str:
    """Why a value may have been read as something else, and how to write it."""
    if expected == "text" and isinstance(value, bool):
        return " (YAML reads a bare yes, no, on, off, true or false as a boolean: put it in quotes)"
    if expected == "text" and isinstance(value, int | float | dt.date):
        return " (put it in quotes to make it text)"
    if expected == "a list" and isinstance(value, str):
        return " (write a list as [a, b, c] or as one '- item' line each)"
    return ""


def _join(words: list[str], last: str = " or ") -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + last + words[-1]


def _message(kind: str, e: Any, loc: Location, annotation: Any, data: Any,
             root: type[BaseModel] = SiteConfig) -> tuple[str, bool]:
    """The sentence for one pydantic error, and whether it is about the key."""
    value = e.get("input")
    ctx = e.get("ctx") or {}
    subject = _subject(loc, data)
    if kind == "missing":
        return f"missing required key {loc[-1]!r} in {_where(loc[:-1], data)}", False
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1], root)
        fields = list(model.model_fields) if model else []
        hint = difflib.get_close_matches(str(loc[-1]), fields, n=1)
        msg = f"unknown key {loc[-1]!r}" + (f": did you mean {hint[0]!r}?" if hint else "")
        if fields:
            msg += f" (expected one of: {', '.join(fields)})"
        return msg, True
    if kind == "string_pattern_mismatch":
        return (f"{_given(value)} is not a valid id for {subject}: expected lower-case letters, "
                "digits, '-', '_' and '.', starting with a letter or digit"), False
    if kind == "literal_error":
        allowed = [str(a) for a in typing.get_args(annotation)] if typing.get_origin(
            annotation) is Literal else []
        hint = difflib.get_close_matches(str(value), allowed, n=1) if isinstance(value, str) else []
        expected = _join([repr(a) for a in allowed]) if allowed else str(ctx.get("expected", ""))
        return (f"{_given(value)} is not allowed for {subject}"
                + (f": did you mean {hint[0]!r}?" if hint else "") + f" (expected {expected})"), False
    if kind in _EXPECTED:
        expected = _EXPECTED[kind]
        return f"{subject} must be {expected}, not {_given(value)}{_hint(expected, value)}", False
    if kind in _COMPARISONS:
        key, words = _COMPARISONS[kind]
        limit = ctx.get(key)
        limit_text = f"{limit:g}" if isinstance(limit, int | float) else str(limit)
        return f"{subject} must be {words} {limit_text}, not {_given(value)}", False
    if kind == "string_too_long":
        return (f"{subject} must be at most {ctx.get('max_length')} characters, not "
                f"{len(value) if isinstance(value, str) else '?'}"), False
    if kind == "value_error":
        return str(e["msg"]).removeprefix("Value error, "), False
    return f"{subject}: {str(e['msg']).lower()} (got {_given(value)})", False


def schema_issues(err: ValidationError, data: Any,
                  root: type[BaseModel] = SiteConfig) -> list[SchemaIssue]:
    """Every error of a failed ``root.model_validate(data)`` (a site file), in plain words."""
    issues: list[SchemaIssue] = []
    # A value that fits no member of a union gets one error per member: say it once,
    # naming everything that would have fitted.
    union_expected: dict[Location, list[str]] = {}
    union_value: dict[Location, Any] = {}
    for e in err.errors(include_url=False):
        kind = e["type"]
        loc, annotation = _walk(e["loc"], root)
        if len(loc) < len(e["loc"]) and kind in _EXPECTED:
            if loc not in union_expected:
                union_expected[loc] = []
                union_value[loc] = e.get("input")
                issues.append((loc, "", False))  # placeholder, keeps document order
            if _EXPECTED[kind] not in union_expected[loc]:
                union_expected[loc].append(_EXPECTED[kind])
            continue
        msg, about_key = _message(kind, e, loc, annotation, data, root)
        issues.append((loc, msg, about_key))
    out: list[SchemaIssue] = []
    for loc, msg, about_key in issues:
        if not msg:
            expected = _join([w.replace(" or ", "/") for w in union_expected[loc]], last=", or ")
            value = union_value[loc]
            msg = f"{_subject(loc, data)} must be {expected}, not {_given(value)}"
        if (loc, msg, about_key) not in out:
            out.append((loc, msg, about_key))
    return out
