"""YAML with positions: the Python data of a document and where each key and value is.

PyYAML's ``safe_load`` drops positions and silently keeps the last of two
equal keys. Here the node tree is composed with the safe loader and turned
into data by hand, so every key and value keeps its line and column, and a
repeated key is reported instead of lost.

A site file may come from anyone who can write to the folder or call the
configuration API, so parsing is bounded and never raises::

    text ──reader──▶ a character YAML refuses (NUL…)        → issue at its line:column
         ──composer─▶ more than MAX_DEPTH levels             → issue at the level that goes over
         ──builder──▶ aliases repeating > MAX_ALIAS_VALUES   → issue at the alias ("billion laughs")
                      (and nesting past MAX_DEPTH through aliases)

The size of the file itself is the loader's to bound, before it is read.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["MAX_ALIAS_VALUES", "MAX_DEPTH", "Document", "Location", "Position", "parse"]

#: A path in the document: keys and list indices from the top.
Location = tuple[str | int, ...]
#: 1-based (line, column).
Position = tuple[int, int]

#: Levels of mappings and lists inside one another (the top mapping is level 1). A site file
#: needs fewer than ten; the limit keeps composing and building far from Python's recursion limit.
MAX_DEPTH = 100
#: Values that aliases (``*name``) and merge keys (``<<: *name``) may repeat in one document, in
#: all: a few hundred points sharing defaults repeat a few thousand, a "billion laughs" 10**9.
MAX_ALIAS_VALUES = 100_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_NULL_TAG = "tag:yaml.org,2002:null"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_INT_TAG = "tag:yaml.org,2002:int"


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


def _too_deep(max_depth: int) -> str:
    return f"nested too deeply: at most {max_depth} levels of mappings and lists inside one another"


def _short(text: str) -> str:
    """``text`` quoted, cut to a readable length: a message never repeats a 5 000-digit scalar."""
    return repr(text) if len(text) <= 32 else f"{text[:32] + '…'!r} ({len(text)} characters)"


# Where an alias was written: (id of the node holding it, its list index or id of its key node).
_Slot = tuple[int, int | None]


class _TooDeep(yaml.composer.ComposerError):
    """More levels than ``max_depth``: reported at the mapping or list that goes over."""


_Parser: Any
try:  # libyaml's parser: the events of a 5 000-line site file in a tenth of the time
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Parser = None


#: What libyaml reads otherwise than PyYAML's parser (found by comparing the two on fuzzed
#: documents): a tab as white space, a byte-order mark past the start, a tag (`!`), an explicit key
#: (`?`), a bare `---`, and an empty value in a flow collection (`{a: }`, positions one column
#: off). A text holding any of them is read by PyYAML's parser; a site file rarely does.
_LIBYAML_DIFFERS = re.compile(
    r"[\t!]|(?:^|[\r\x85\u2028\u2029])[ -]*\?|(?:^|[\r\x85\u2028\u2029])---[ ]*(?:$|[\r\x85\u2028\u2029])"
    r"|:[ ]*[,}\]]", re.M)


class _Loader(yaml.composer.Composer, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
    """The safe loader, counting levels while it composes and noting where each alias is written.

    Events come from libyaml when PyYAML has it (composing from them here, in Python,
    keeps the depth bound and the aliases' places), else from PyYAML's own parser,
    whose syntax errors say more ("expected ',' or ']', but got ':'"): ``parse``
    reads a text libyaml refuses again with it, for the message. The text is first
    read by PyYAML's reader either way, so a character YAML refuses gets the same
    issue at the same line and column.
    """

    def __init__(self, text: str, max_depth: int, *, libyaml: bool = True) -> None:
        yaml.reader.Reader(text)  # raises ReaderError at a character YAML refuses
        fast = (libyaml and _Parser is not None and _LIBYAML_DIFFERS.search(text) is None
                and text.find("\ufeff", 1) < 0)
        self._events: Any = _Parser(text) if fast else yaml.Loader(text)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)
        yaml.composer.Composer.__init__(self)
        self.max_depth = max_depth
        self.depth = 0
        self.aliases: dict[_Slot, Position] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        event = self.peek_event()
        mark = event.start_mark
        if isinstance(event, yaml.AliasEvent) and mark is not None:
            # The composer hands back the anchored node itself: only here is the alias's own place known.
            self.aliases[_slot(parent, index)] = (mark.line + 1, mark.column + 1)
        collection = isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent)
        if collection:
            self.depth += 1
            if self.depth > self.max_depth:
                raise _TooDeep(None, None, _too_deep(self.max_depth), mark)
        try:
            return super().compose_node(parent, index)
        finally:
            if collection:
                self.depth -= 1

    def check_event(self, *choices: Any) -> bool:
        return bool(self._events.check_event(*choices))

    def peek_event(self) -> Any:
        return self._events.peek_event()

    def get_event(self) -> Any:
        return self._events.get_event()

    def dispose(self) -> None:
        self._events.dispose()


def _slot(parent: yaml.Node | None, index: Any) -> _Slot:
    return id(parent), index if isinstance(index, int) or index is None else id(index)


class _TooMany(Exception):
    """Aliases repeat more values than allowed: the whole document is refused."""

    def __init__(self, position: Position) -> None:
        self.position = position


class _Builder:
    """Turns a composed node tree into plain data, recording positions and problems."""

    def __init__(self, loader: _Loader, doc: Document, max_depth: int, max_alias_values: int) -> None:
        self.loader = loader
        self.doc = doc
        self.active: set[int] = set()
        self.built: set[int] = set()
        self.max_depth = max_depth
        self.max_alias_values = max_alias_values
        self.repeated = 0  # values built a second time or more: what aliases added
        self.alias_at: Position | None = None  # the alias being expanded, outermost
        self.depth = 0
        self.too_deep = False

    def build(self, node: yaml.Node, loc: Location, slot: _Slot = (0, None)) -> Any:
        here = self.doc.values[loc] = _mark(node)
        outer_alias = self.alias_at
        if id(node) in self.built:
            self.repeated += 1
            if outer_alias is None:
                self.alias_at = self.loader.aliases.get(slot) or self._near(loc)
            if self.repeated > self.max_alias_values:
                raise _TooMany(self.alias_at or here)
        collection = isinstance(node, yaml.MappingNode | yaml.SequenceNode)
        if collection and self.depth >= self.max_depth:
            # Only aliases get here: the composer refused deeper text. Point at the alias that nested
            # it, once: an alias of that alias nests deeper still, and would only repeat the news.
            if not self.too_deep:
                self.doc.issues.append((self.alias_at or here, _too_deep(self.max_depth)))
                self.too_deep = True
            self.doc.broken.add(loc)
            self.alias_at = outer_alias
            return None
        if id(node) in self.active:
            # `&a [*a]` is legal YAML; a site file has no use for a structure that contains itself.
            self.doc.issues.append((_mark(node), "an alias refers to the node that contains it: "
                                    "expected a plain tree of keys and values"))
            self.doc.broken.add(loc)
            self.alias_at = outer_alias
            return None
        self.built.add(id(node))
        self.active.add(id(node))
        self.depth += collection
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, loc)
            if isinstance(node, yaml.SequenceNode):
                return [self.build(item, (*loc, i), (id(node), i)) for i, item in enumerate(node.value)]
            value, ok = self._scalar(node)
            if not ok:
                self.doc.broken.add(loc)
            return value
        finally:
            self.active.discard(id(node))
            self.depth -= collection
            self.alias_at = outer_alias

    def _near(self, loc: Location) -> Position | None:
        """Where a value whose alias has no recorded place is (a merged key): its key, else its holder."""
        return self.doc.keys.get(loc) or (self.doc.position(loc[:-1]) if loc else None)

    def _scalar(self, node: yaml.Node) -> tuple[Any, bool]:
        """The value of a scalar, and False (with the problem recorded) when it has none."""
        try:
            return self.loader.construct_object(node, deep=True), True
        except yaml.constructor.ConstructorError as err:
            self.doc.issues.append((_mark(node), f"YAML error: {err.problem}"))
        except (ValueError, ArithmeticError, LookupError, AttributeError, TypeError) as err:
            # PyYAML's constructors trust the resolver: an explicit tag on a scalar that is not of
            # its kind (`!!int ''`, `!!bool x`, `!!timestamp 1`) fails with whatever error comes first.
            text = _short(str(node.value))
            kind = str(node.tag).rsplit(":", 1)[-1]
            if node.tag == _INT_TAG and "digits" in str(err):
                message = f"{text} has too many digits for a number (at most {sys.get_int_max_str_digits()})"
            elif node.tag == _TIMESTAMP_TAG and isinstance(err, ValueError) \
                    and str(node.value)[:1].isdigit():  # 2024-13-45, resolved or tagged as a date
                message = f"{text} looks like a date but is not one ({err})"
            else:
                self.doc.issues.append((_mark(node), f"{text} is not a valid {kind}: expected a "
                                        f"{kind} after the tag !!{kind}, or no tag"))
                return None, False
            self.doc.issues.append((_mark(node), f"{message}: put it in quotes if it is text"))
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
            out[key] = self.build(value_node, (*loc, key), _slot(node, key_node))
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
    if isinstance(err, _TooDeep):
        return err.problem or ""
    if isinstance(err, yaml.composer.ComposerError) and "another document" in (err.problem or ""):
        return ("a site file holds one YAML document, but a second one starts here: put each "
                "site in its own file")
    message = f"YAML syntax error: {err.problem or err.context}"
    if err.context and err.problem and err.context_mark is not None:
        cm = err.context_mark
        message += f" ({err.context} at line {cm.line + 1}, column {cm.column + 1})"
    return message


def _reader_message(err: yaml.reader.ReaderError) -> str:
    if isinstance(err.character, int):
        return (f"character U+{err.character:04X} is not allowed in a YAML file: expected printable "
                "text (remove it, or write it as an escape such as \"\\x07\" inside double quotes)")
    return f"YAML error: {err.reason}"  # pragma: no cover - bytes are decoded before parsing


_NO_KEY: Any = object()  # a mapping of the fast path waiting for its next key
_FAST_RESOLVER = yaml.resolver.Resolver()
_FAST_CONSTRUCTOR = yaml.constructor.SafeConstructor()


class _NotPlain(Exception):
    """The text uses something the fast path leaves to the full one (aliases, merge keys, a problem)."""


def _plain_scalar(value: str, implicit: tuple[bool, bool], cache: dict[str, Any]) -> Any:
    """The value of an untagged scalar event, as the safe constructor builds it."""
    if not implicit[0]:  # quoted, literal or folded: text as written
        return value
    try:
        return cache[value]
    except KeyError:
        pass
    tag = _FAST_RESOLVER.resolve(yaml.ScalarNode, value, implicit)
    if tag == _MERGE_TAG:
        raise _NotPlain
    try:
        built = _FAST_CONSTRUCTOR.yaml_constructors[tag](_FAST_CONSTRUCTOR, yaml.ScalarNode(tag, value))
    except Exception as err:  # any problem is reported, with its words, by the full path
        raise _NotPlain from err
    cache[value] = built  # the safe constructor's scalars are immutable: one object serves every copy
    return built


def _fast(text: str, doc: Document, max_depth: int, positions: bool = True) -> bool:
    """``doc`` built straight from libyaml's events, when the text is a plain tree of keys and values.

    A site file of 100 000 points has 800 000 events: composing PyYAML nodes from
    them in Python and building the data from the nodes took 20 s, this pass
    about 3. It fills the same ``data``, ``keys`` and ``values`` as the full
    path, and gives up (False, ``doc`` to be cleared) at anything else: an anchor
    or alias, a merge key, a tag, a key that is not a plain word, a repeated key,
    a scalar the safe constructor refuses, nesting past ``max_depth``, a second
    document, a syntax error. The full path then reads the text again and words
    the problem, so a bad file gets the same issues as ever.

    ``positions`` False: only those of the top two levels are kept (``site.id``…).
    """
    events: Any = _Parser(text)
    deep = MAX_DEPTH + 1 if positions else 2  # the longest location whose position is kept
    keys, values = doc.keys, doc.values
    cache: dict[str, Any] = {}
    plain_keys: set[str] = set()
    # One frame per open mapping or list: [the container, its location, the key of the value to come].
    stack: list[list[Any]] = []
    root: Any = None
    done = False
    try:
        get = events.get_event
        first = get()
        if type(first) is not yaml.StreamStartEvent:  # pragma: no cover - libyaml always starts so
            return False
        event = get()
        if type(event) is yaml.StreamEndEvent:
            return True  # an empty text: no data
        if type(event) is not yaml.DocumentStartEvent:  # pragma: no cover
            return False
        while not done:
            event = get()
            kind = type(event)
            if stack:
                frame = stack[-1]
                container = frame[0]
                if type(container) is dict:
                    if frame[2] is _NO_KEY:
                        if kind is yaml.MappingEndEvent:
                            stack.pop()
                            done = not stack
                            continue
                        if kind is not yaml.ScalarEvent or event.anchor is not None or event.tag is not None:
                            return False
                        key = event.value
                        if event.implicit[0] and key not in plain_keys:
                            if key == "<<" or _FAST_RESOLVER.resolve(yaml.ScalarNode, key,
                                                                     event.implicit) == _NULL_TAG:
                                return False  # a merge key, or an empty key: the full path's to handle
                            plain_keys.add(key)
                        if key in container:
                            return False  # repeated: reported by the full path
                        frame[2] = key
                        mark = event.start_mark
                        if len(frame[1]) < deep:
                            keys[(*frame[1], key)] = (mark.line + 1, mark.column + 1)
                        continue
                    loc = (*frame[1], frame[2])
                elif kind is yaml.SequenceEndEvent:
                    stack.pop()
                    done = not stack
                    continue
                else:
                    loc = (*frame[1], len(container))
            else:
                loc = ()
            if getattr(event, "anchor", None) is not None or getattr(event, "tag", None) is not None:
                return False  # aliases, anchors and tags: the full path counts and places them
            mark = event.start_mark
            if len(loc) <= deep:
                values[loc] = (mark.line + 1, mark.column + 1)
            collection = kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent
            if kind is yaml.ScalarEvent:
                value = _plain_scalar(event.value, event.implicit, cache)
            elif collection and len(stack) < max_depth:
                value = {} if kind is yaml.MappingStartEvent else []
            else:
                return False
            if stack:
                parent = stack[-1]
                if type(parent[0]) is dict:
                    parent[0][parent[2]] = value
                    parent[2] = _NO_KEY
                else:
                    parent[0].append(value)
            else:
                root = value
            if collection:
                stack.append([value, loc, _NO_KEY])
            else:
                done = not stack
        if type(get()) is not yaml.DocumentEndEvent or type(get()) is not yaml.StreamEndEvent:
            return False  # a second document
    except (yaml.YAMLError, _NotPlain):
        return False
    finally:
        events.dispose()
    doc.data = root
    return True


def parse(text: str, *, max_depth: int = MAX_DEPTH, max_alias_values: int = MAX_ALIAS_VALUES,
          positions: bool = True) -> Document:
    """The document in ``text`` with positions; YAML problems in ``issues``, never raised.

    A document nested deeper than ``max_depth`` levels, or whose aliases repeat
    more than ``max_alias_values`` values, is refused with one issue and no data.
    ``positions`` False: a plain tree keeps the positions of its top two levels
    only (a site file of 100 000 points kept 1.1 million, 150 MB while it loaded);
    the loader asks again with positions when it has a problem to place.
    """
    doc = Document()
    if _Parser is not None and _LIBYAML_DIFFERS.search(text) is None and text.find("\ufeff", 1) < 0:
        try:
            yaml.reader.Reader(text)  # a character YAML refuses: the full path says where
        except yaml.reader.ReaderError:
            pass
        else:
            if _fast(text, doc, max_depth, positions):
                return doc
            doc = Document()
    loader: _Loader | None = None
    try:
        loader = _Loader(text, max_depth)  # the reader checks every character here
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as err:
            if isinstance(err, _TooDeep):
                raise
            loader.dispose()  # libyaml's message is terser: PyYAML's parser says what it got
            loader = _Loader(text, max_depth, libyaml=False)
            node = loader.get_single_node()
        if node is not None:
            doc.data = _Builder(loader, doc, max_depth, max_alias_values).build(node, ())
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        column = err.position - (text.rfind("\n", 0, err.position) + 1) + 1
        doc.issues.append(((line, column), _reader_message(err)))
    except _TooMany as over:
        doc.data = None
        doc.keys.clear()
        doc.values.clear()
        doc.issues = [(over.position, f"aliases (*name) repeat more than {max_alias_values} values: "
                       "expected each anchor (&name) repeated a few times, not aliases of aliases "
                       "multiplying into a 'billion laughs'")]
    except yaml.MarkedYAMLError as err:
        doc.data = None
        mark = err.problem_mark or err.context_mark
        pos = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        doc.issues.append((pos, _syntax_message(err)))
    except yaml.YAMLError as err:  # pragma: no cover - every PyYAML parse error is marked
        doc.data = None
        doc.issues.append(((1, 1), f"YAML error: {err}"))
    finally:
        if loader is not None:
            loader.dispose()
    return doc
