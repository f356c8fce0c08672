"""YAML with positions: the Python data of a document and where each key and value is.

PyYAML's ``safe_load`` drops positions and silently keeps the last of two
equal keys. Here the node tree is composed with the safe loader and turned
into data by hand, so every key and value keeps its line and column, and a
repeated key is reported instead of lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["Document", "Location", "Position", "parse"]

#: A path in the document: keys and list indices from the top.
Location = tuple[str | int, ...]
#: 1-based (line, column).
Position = tuple[int, int]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"


@dataclass(slots=True)
class Document:
    """A parsed YAML document.

    ``data`` is ``None`` for an empty file or when the YAML could not be
    parsed. ``keys`` holds the position of each mapping key and ``values``
    the position of each value (mappings and lists included), both by
    location. ``issues`` are the YAML-level problems found; ``broken`` the
    locations whose value could not be built (it is ``None`` in ``data``),
    so later checks do not report the same mistake again.
    """

    data: Any = None
    keys: dict[Location, Position] = field(default_factory=dict)
    values: dict[Location, Position] = field(default_factory=dict)
    issues: list[tuple[Position, str]] = field(default_factory=list)
    broken: set[Location] = field(default_factory=set)

    def is_broken(self, loc: Location) -> bool:
        """Whether ``loc`` or a location that holds it could not be built."""
        return any(loc[:n] in self.broken for n in range(len(loc) + 1))

    def position(self, loc: Location, *, key: bool = False) -> Position:
        """Where ``loc`` is, or its nearest ancestor that has a position.

        With ``key`` the position of the mapping key is preferred, for problems
        with the key itself (unknown, repeated); otherwise that of the value.
        """
        for n in range(len(loc), -1, -1):
            part = loc[:n]
            pos = (self.keys.get(part) if key and n == len(loc) else None) or self.values.get(part)
            if pos is not None:
                return pos
        return 1, 1


def _mark(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns a composed node tree into plain data, recording positions and problems."""

    def __init__(self, loader: yaml.SafeLoader, doc: Document) -> None:
        self.loader = loader
        self.doc = doc
        self.active: set[int] = set()

    def build(self, node: yaml.Node, loc: Location) -> Any:
        self.doc.values[loc] = _mark(node)
        if id(node) in self.active:
            # `&a [*a]` is legal YAML; a site file has no use for a structure that contains itself.
            self.doc.issues.append((_mark(node), "an alias refers to the node that contains it: "
                                    "expected a plain tree of keys and values"))
            self.doc.broken.add(loc)
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, loc)
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*loc, i)) for i, item in enumerate(node.value)]
            value, ok = self._scalar(node)
            if not ok:
                self.doc.broken.add(loc)
            return value
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: yaml.Node) -> tuple[Any, bool]:
        """The value of a scalar, and False (with the problem recorded) when it has none."""
        try:
            return self.loader.construct_object(node, deep=True), True
        except yaml.constructor.ConstructorError as err:
            self.doc.issues.append((_mark(node), f"YAML error: {err.problem}"))
        except ValueError as err:
            # A timestamp-looking scalar that is no date, e.g. 2024-13-45.
            self.doc.issues.append((_mark(node), f"{node.value!r} looks like a date but is not "
                                    f"one ({err}): put it in quotes if it is text"))
        return None, False

    def _mapping(self, node: yaml.MappingNode, loc: Location) -> dict[str, Any]:
        own = {id(k) for k, _ in node.value if k.tag != _MERGE_TAG}
        try:
            self.loader.flatten_mapping(node)  # YAML merge keys (<<: *defaults)
        except yaml.constructor.ConstructorError as err:
            mark = err.problem_mark
            pos = (mark.line + 1, mark.column + 1) if mark else _mark(node)
            self.doc.issues.append((pos, f"YAML error: {err.problem}"))
        out: dict[str, Any] = {}
        first: dict[str, tuple[Position, bool]] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node)
            if key is None:
                continue
            is_own = id(key_node) in own
            if key in first:
                (line, col), was_own = first[key]
                # A key of this mapping overrides one merged in from elsewhere: that is what
                # merge keys are for. Two keys written in the same mapping is a mistake.
                if is_own and was_own:
                    self.doc.issues.append((_mark(key_node), f"duplicate key {key!r} (first at "
                                            f"line {line}, column {col}): expected each key once; "
                                            "YAML would silently keep only the last"))
                    continue
            first[key] = (_mark(key_node), is_own)
            self.doc.keys[(*loc, key)] = _mark(key_node)
            out[key] = self.build(value_node, (*loc, key))
        return out

    def _key(self, node: yaml.Node) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.doc.issues.append((_mark(node), "a key must be a plain word, not a list or mapping"))
            return None
        if node.tag == _NULL_TAG:
            self.doc.issues.append((_mark(node), "empty key: expected a word before the ':'"))
            return None
        # Keys are names: the text as written, so `on:` stays 'on' rather than becoming true.
        return str(node.value)


def _syntax_message(err: yaml.MarkedYAMLError) -> str:
    if isinstance(err, yaml.composer.ComposerError) and "another document" in (err.problem or ""):
        return ("a site file holds one YAML document, but a second one starts here: put each "
                "site in its own file")
    message = f"YAML syntax error: {err.problem or err.context}"
    if err.context and err.problem and err.context_mark is not None:
        cm = err.context_mark
        message += f" ({err.context} at line {cm.line + 1}, column {cm.column + 1})"
    return message


def parse(text: str) -> Document:
    """The document in ``text`` with positions; YAML problems in ``issues``, never raised."""
    doc = Document()
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.data = _Builder(loader, doc).build(node, ())
    except yaml.MarkedYAMLError as err:
        doc.data = None
        mark = err.problem_mark or err.context_mark
        pos = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        doc.issues.append((pos, _syntax_message(err)))
    except yaml.YAMLError as err:  # pragma: no cover - every PyYAML parse error is marked
        doc.data = None
        doc.issues.append(((1, 1), f"YAML error: {err}"))
    finally:
        loader.dispose()
    return doc
