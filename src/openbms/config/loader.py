"""Load site files: every problem reported as ``file:line:column: message``, nothing half-loaded.

A file is read in three passes, and all three report before anything fails:
YAML (syntax, duplicate keys) with the position of every key and value;
the schema (pydantic: types, required keys, unknown keys, allowed values);
the whole-site checks of ``openbms.model.validate`` (ids, references, units,
bindings, drivers). Positions are 1-based.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from openbms.errors import ConfigError, ConfigIssue
from openbms.model.site import SiteConfig
from openbms.model.validate import check_site

__all__ = ["check_path", "default_drivers", "load_site", "load_sites", "site_files"]

Path_ = tuple[str | int, ...]
Pos = tuple[int, int]


def default_drivers() -> tuple[str, ...]:
    """The drivers a binding may name."""
    from openbms.drivers.registry import known_drivers

    return known_drivers()


# ---------------------------------------------------------------------------- YAML with positions


class _Doc:
    """Python data of a YAML document, with the position of every key and value."""

    def __init__(self) -> None:
        self.key_pos: dict[Path_, Pos] = {}
        self.value_pos: dict[Path_, Pos] = {}
        self.issues: list[tuple[Pos, str]] = []


def _mark(node: yaml.Node) -> Pos:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, doc: _Doc) -> Any:
    doc.value_pos[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # YAML merge keys (<<)
        out: dict[Any, Any] = {}
        first: dict[Any, Pos] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                doc.issues.append((_mark(key_node), "a key must be a plain word or number"))
                continue
            key = str(key) if not isinstance(key, str) else key
            if key in first:
                line, col = first[key]
                doc.issues.append((_mark(key_node), f"duplicate key {key!r} (first at line {line}, "
                                   f"column {col}); the second would silently win"))
                continue
            first[key] = _mark(key_node)
            doc.key_pos[(*path, key)] = _mark(key_node)
            out[key] = _build(loader, value_node, (*path, key), doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), doc) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _parse_yaml(text: str) -> tuple[Any, _Doc]:
    doc = _Doc()
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = _build(loader, node, (), doc) if node is not None else None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        pos = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = " ".join(x for x in (err.context, err.problem) if x)
        doc.issues.append((pos, f"YAML syntax error: {what}"))
        data = None
    except yaml.YAMLError as err:
        doc.issues.append(((1, 1), f"YAML error: {err}"))
        data = None
    finally:
        loader.dispose()
    return data, doc


# ---------------------------------------------------------------------------- schema errors


def _unwrap(annotation: Any) -> Any:
    """The model class inside Optional[...], tuple[..., ...], list[...], dict[str, ...]."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            if arg is not type(None):
                return _unwrap(arg)
    if origin in (tuple, list):
        return _unwrap(typing.get_args(annotation)[0])
    if origin is dict:
        return _unwrap(typing.get_args(annotation)[1])
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation


def _model_at(path: Path_) -> type[BaseModel] | None:
    """The pydantic model that describes the mapping at ``path`` of a site document."""
    model: Any = SiteConfig
    for step in path:
        if isinstance(step, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(step)
        if field is None:
            # A dict[str, Model] (drivers): the key is a name, the model stays the value type.
            dict_fields = [f for f in model.model_fields.values()
                           if typing.get_origin(f.annotation) is dict]
            if not dict_fields:
                return None
            continue
        model = _unwrap(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _position(doc: _Doc, loc: Path_, key: bool = False) -> Pos:
    """The nearest known position of a location, walking up to its parents."""
    table = doc.key_pos if key else doc.value_pos
    for n in range(len(loc), -1, -1):
        pos = table.get(loc[:n]) or doc.value_pos.get(loc[:n])
        if pos:
            return pos
    return 1, 1


_TYPE_WORDS = {
    "float_parsing": "a number", "float_type": "a number", "int_parsing": "a whole number",
    "int_type": "a whole number", "int_from_float": "a whole number", "bool_parsing": "true or false",
    "bool_type": "true or false", "string_type": "text", "dict_type": "a mapping (key: value lines)",
    "model_type": "a mapping (key: value lines)", "tuple_type": "a list", "list_type": "a list",
}


def _doc_loc(loc: tuple[Any, ...], data: Any) -> Path_:
    """Drop pydantic's extra loc parts (union member names) that are not in the document."""
    out: list[str | int] = []
    node = data
    for step in loc:
        in_dict = isinstance(node, dict) and step in node
        in_list = isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node)
        if in_dict or in_list:
            out.append(step)
            node = node[step]
        elif isinstance(node, dict) and isinstance(step, str) and out[-1:] != [step]:
            out.append(step)  # a missing or unknown key: keep it, it names the problem
            node = None
        else:
            break
    return tuple(out)


def _schema_issues(err: ValidationError, data: Any, doc: _Doc) -> list[tuple[Pos, str]]:
    issues: list[tuple[Pos, str]] = []
    seen: set[tuple[Path_, str]] = set()
    for e in err.errors(include_url=False):
        loc = _doc_loc(e["loc"], data)
        kind = e["type"]
        name = str(loc[-1]) if loc else "the file"
        value = e.get("input")
        if kind == "missing":
            where = ".".join(str(x) for x in loc[:-1]) or "the top level"
            msg = f"missing required key {name!r} in {where}"
            pos = _position(doc, loc[:-1])
        elif kind == "extra_forbidden":
            model = _model_at(loc[:-1])
            fields = list(model.model_fields) if model else []
            hint = difflib.get_close_matches(name, fields, n=1)
            msg = f"unknown key {name!r}" + (f": did you mean {hint[0]!r}?" if hint else "")
            if fields:
                msg += f" (expected one of: {', '.join(fields)})"
            pos = _position(doc, loc, key=True)
        elif kind == "string_pattern_mismatch":
            msg = (f"{value!r} is not a valid id for {name!r}: use lower-case letters, digits, "
                   "'-', '_' and '.', starting with a letter or digit")
            pos = _position(doc, loc)
        elif kind == "literal_error":
            expected = e["msg"].removeprefix("Input should be ")
            msg = f"{value!r} is not allowed for {name!r}: expected {expected}"
            pos = _position(doc, loc)
        elif kind in _TYPE_WORDS:
            what = f"{name!r}" if isinstance(loc[-1:] and loc[-1], str) else f"entry {name}"
            msg = f"{what} must be {_TYPE_WORDS[kind]}, not {value!r}"
            if isinstance(value, bool) and kind == "string_type":
                msg += " (YAML reads a bare yes, no, on or off as true/false: put it in quotes)"
            pos = _position(doc, loc)
        elif kind == "value_error":
            msg = e["msg"].removeprefix("Value error, ")
            pos = _position(doc, loc)
        else:
            msg = f"{name!r}: {e['msg'].lower()} (got {value!r})"
            pos = _position(doc, loc)
        # A union reports once per member: say it once.
        if (loc, msg) not in seen:
            seen.add((loc, msg))
            issues.append((pos, msg))
    return issues


# ---------------------------------------------------------------------------- public API


def _read(path: Path, drivers: Collection[str]) -> tuple[SiteConfig | None, list[ConfigIssue]]:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [ConfigIssue(name, 1, 1, "no such file")]
    except UnicodeDecodeError as err:
        return None, [ConfigIssue(name, 1, 1, f"not UTF-8 text ({err.reason} at byte {err.start})")]
    except OSError as err:
        return None, [ConfigIssue(name, 1, 1, f"cannot read: {err.strerror}")]
    data, doc = _parse_yaml(text)
    found = list(doc.issues)
    if data is None and not found:
        found.append(((1, 1), "the file is empty: expected a site description with a 'site:' key"))
    elif data is not None and not isinstance(data, dict):
        found.append(((1, 1), "expected a mapping with keys site, drivers, spaces and equipment"))
    cfg = None
    if isinstance(data, dict):
        try:
            cfg = SiteConfig.model_validate(data)
        except ValidationError as err:
            found += _schema_issues(err, data, doc)
        for loc, msg in check_site(data, drivers):
            key = bool(loc) and loc[0] == "drivers" and len(loc) == 2
            found.append((_position(doc, loc, key=key), msg))
    found.sort(key=lambda item: item[0])
    issues = [ConfigIssue(name, line, col, msg) for (line, col), msg in found]
    return (cfg if not issues else None), issues


def site_files(path: str | Path) -> list[Path]:
    """The site files a path names: the file itself, or the *.yaml/*.yml files of a folder."""
    p = Path(path)
    if p.is_dir():
        return sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml") and x.is_file())
    return [p]


def check_path(path: str | Path, drivers: Collection[str] | None = None) -> list[ConfigIssue]:
    """Every problem of a site file or folder (an empty list when all is well)."""
    try:
        load_sites(path, drivers)
    except ConfigError as err:
        return err.issues
    return []


def load_site(path: str | Path, drivers: Collection[str] | None = None) -> SiteConfig:
    """One site file; ConfigError lists every problem."""
    cfg, issues = _read(Path(path), drivers if drivers is not None else default_drivers())
    if issues or cfg is None:
        raise ConfigError(issues)
    return cfg


def load_sites(path: str | Path, drivers: Collection[str] | None = None) -> list[SiteConfig]:
    """Every site of a file or folder; ConfigError lists every problem in every file."""
    names = drivers if drivers is not None else default_drivers()
    files = site_files(path)
    if not files:
        raise ConfigError([ConfigIssue(str(path), 1, 1, "no site files (*.yaml) in this folder")])
    sites: list[SiteConfig] = []
    issues: list[ConfigIssue] = []
    first_file: dict[str, str] = {}
    for f in files:
        cfg, found = _read(f, names)
        issues += found
        if cfg is not None:
            if cfg.site.id in first_file:
                issues.append(ConfigIssue(str(f), *_site_id_pos(f), f"site id {cfg.site.id!r} is "
                                          f"already used by {first_file[cfg.site.id]}"))
            else:
                first_file[cfg.site.id] = str(f)
                sites.append(cfg)
    if issues:
        raise ConfigError(issues)
    return sites


def _site_id_pos(path: Path) -> Pos:
    _, doc = _parse_yaml(path.read_text(encoding="utf-8"))
    return doc.value_pos.get(("site", "id"), (1, 1))


