"""Load site files: every problem reported as ``file:line:column: message``, nothing half-loaded.

A file is checked in three passes, and all three report before anything fails:

1. YAML: syntax, repeated keys, with the position of every key and value
   (``openbms.config._yaml``);
2. the schema: types, required and unknown keys, allowed values
   (``SiteConfig.model_validate``, its errors put in plain words by
   ``openbms.config._schema``);
3. the whole-site checks of ``openbms.model.validate``: ids, references,
   units, bindings, drivers, time zones; and those of the site's control
   (``openbms.config.checks``): schedules, calendars and alarms against the
   points, and the program files.

A folder is every ``*.yaml`` and ``*.yml`` file in it, and a site id may be
used by one file only. Positions are 1-based. Either every site loads, or
``ConfigError`` lists every problem in every file.

A file larger than ``MAX_FILE_MB`` megabytes (``OPENBMS_MAX_SITE_FILE_MB`` in
the environment) is refused before it is read; the YAML pass bounds nesting
and aliases (``openbms.config._yaml``), so no file can hang a check or a start.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from openbms.config._schema import schema_issues
from openbms.config._yaml import Document, Position, parse
from openbms.config.checks import check_control
from openbms.errors import ConfigError, ConfigIssue
from openbms.model.schemes import BUILTIN_SCHEMES, known_schemes, site_expansions
from openbms.model.site import SiteConfig
from openbms.model.validate import check_site

__all__ = ["FALLBACK_DRIVERS", "check_path", "default_drivers", "load_site", "load_sites", "site_files"]

_log = logging.getLogger(__name__)

#: The drivers that ship with openbms: what a binding may name when no plug-in is registered.
FALLBACK_DRIVERS: tuple[str, ...] = BUILTIN_SCHEMES

_SUFFIXES = (".yaml", ".yml")

#: The largest site file read, in megabytes (2**20 bytes), unless ``OPENBMS_MAX_SITE_FILE_MB``
#: says otherwise. The demo's 300 points take 100 KB, so 16 MB is tens of thousands of points,
#: and checking that many takes seconds; a file of 50 MB took half a minute.
MAX_FILE_MB = 16
_MAX_FILE_ENV = "OPENBMS_MAX_SITE_FILE_MB"


def default_drivers() -> tuple[str, ...]:
    """The drivers a binding may name: the builtin ones and every plug-in registered so far.

    The names come from ``openbms.model.schemes``, where the drivers' registry puts
    them: checking a file imports no driver.
    """
    return known_schemes()


@dataclass(slots=True)
class _FileResult:
    """What reading one file gave: the site (only when it has no problem) and the problems."""

    path: Path
    config: SiteConfig | None = None
    issues: list[ConfigIssue] = field(default_factory=list)
    site_id: str | None = None
    site_id_at: Position = (1, 1)


def _max_file_bytes() -> tuple[int | None, str]:
    """The size limit of a site file in bytes, or None and why the setting is wrong."""
    setting = os.environ.get(_MAX_FILE_ENV, "").strip()
    try:
        mb = float(setting) if setting else float(MAX_FILE_MB)
    except ValueError:
        mb = 0.0
    if not 0 < mb < 2**20:  # NaN fails this too
        return None, (f"{_MAX_FILE_ENV} is {setting!r}: expected a positive number of megabytes "
                      f"(the default is {MAX_FILE_MB})")
    return int(mb * 2**20), ""


def _read_text(path: Path) -> tuple[str | None, str]:
    """The text of a file, or None and why it cannot be read."""
    limit, why = _max_file_bytes()
    if limit is None:
        return None, why
    try:
        # Read one byte past the limit rather than trust the size: /dev/zero or a growing file has none.
        with path.open("rb") as f:
            raw = f.read(limit + 1)
    except FileNotFoundError:
        return None, "no such file: expected a site file (*.yaml) or a folder of them"
    except IsADirectoryError:
        return None, "this is a folder: expected a site file (load_sites reads folders)"
    except OSError as err:
        return None, f"cannot read the file: {err.strerror or err}"
    if len(raw) > limit:
        return None, (f"the file is larger than {limit / 2**20:g} MB, the limit for a site file: "
                      f"expected a smaller file, or {_MAX_FILE_ENV} set to allow a larger one")
    try:
        # utf-8-sig: Windows editors may start the file with a byte-order mark.
        return raw.decode("utf-8-sig"), ""
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        column = err.start - raw.rfind(b"\n", 0, err.start)
        return None, (f"not UTF-8 text: byte 0x{raw[err.start]:02x} at line {line}, column {column} "
                      f"({err.reason}); expected a YAML file saved as UTF-8")


#: How a problem that is openbms's own, not the file's, begins.
DEFECT = "openbms could not finish checking this file"


def _check_document(doc: Document, drivers: Collection[str], doc_path: Path | None = None,
                    elsewhere: list[ConfigIssue] | None = None,
                    ) -> tuple[SiteConfig | None, list[tuple[Position, str]]]:
    try:
        return _check_passes(doc, drivers, doc_path, elsewhere if elsewhere is not None else [])
    except Exception as err:
        # A check that breaks on odd input is a defect of openbms (the fuzzers look for them), but
        # the person at the terminal still gets a problem at the file, not a traceback.
        _log.debug("checking %s failed", doc_path or "a site file", exc_info=True)
        return None, [*doc.issues, ((1, 1), f"{DEFECT} ({type(err).__name__}: {str(err)[:200]}): "
                                    "this is a defect in openbms; please report it with the file")]


def _check_passes(doc: Document, drivers: Collection[str], doc_path: Path | None,
                  elsewhere: list[ConfigIssue]) -> tuple[SiteConfig | None, list[tuple[Position, str]]]:
    found = list(doc.issues)
    data = doc.data
    if data is None and not found:
        found.append(((1, 1), "the file is empty: expected a site description starting with "
                      "'site:'"))
    elif data is not None and not isinstance(data, dict):
        found.append((doc.position(()), "expected a mapping with the keys site, drivers, spaces "
                      "and equipment at the top of the file"))
    if not isinstance(data, dict):
        return None, found
    for expand in site_expansions():  # a driver's profiles: their points, before any check
        data, problems, other_files = expand(data, doc_path, parse)
        found += [(doc.position(loc), message) for loc, message in problems]
        elsewhere += other_files
    config = None
    try:
        config = SiteConfig.model_validate(data).with_source(doc_path)
    except ValidationError as err:
        for loc, message, about_key in schema_issues(err, data, SiteConfig):
            if not doc.is_broken(loc):
                found.append((doc.position(loc, key=about_key), message))
    for loc, message in check_site(data, drivers):
        # A driver's name under `drivers:` is a key: point at it, not at its settings.
        about_key = len(loc) == 2 and loc[0] == "drivers"
        if not doc.is_broken(loc):
            found.append((doc.position(loc, key=about_key), message))
    if config is not None:
        for loc, message in check_control(config):
            found.append((doc.position(loc), message))
    return config, found


def _read(path: Path, drivers: Collection[str]) -> _FileResult:
    result = _FileResult(path)
    name = str(path)
    text, why = _read_text(path)
    if text is None:
        result.issues.append(ConfigIssue(name, 1, 1, why))
        return result
    # Positions of every key and value cost more memory than the site itself (150 MB at 100 000
    # points, kept by the process as it grew): a file is read without them first, and again
    # with them only when there is a problem to place.
    doc = parse(text, positions=False)
    elsewhere: list[ConfigIssue] = []
    config, found = _check_document(doc, drivers, path, elsewhere)
    if found or elsewhere:
        doc = parse(text)
        elsewhere.clear()
        config, found = _check_document(doc, drivers, path, elsewhere)
    site = doc.data.get("site") if isinstance(doc.data, dict) else None
    if isinstance(site, dict) and isinstance(site.get("id"), str):
        result.site_id = site["id"]
        result.site_id_at = doc.position(("site", "id"))
    unique: list[tuple[Position, str]] = []
    for item in sorted(found, key=lambda item: item[0]):
        if item not in unique:
            unique.append(item)
    result.issues = [ConfigIssue(name, line, col, msg) for (line, col), msg in unique]
    result.issues += [i for i in dict.fromkeys(elsewhere) if i not in result.issues]
    result.config = config if not result.issues else None
    return result


def site_files(path: str | Path) -> list[Path]:
    """The site files a path names: the file itself, or the *.yaml and *.yml files of a folder.

    Hidden files (editor and backup copies such as ``.site.yaml``) are skipped.
    """
    p = Path(path)
    if p.is_dir():
        return sorted(x for x in p.iterdir()
                      if x.suffix in _SUFFIXES and not x.name.startswith(".") and x.is_file())
    return [p]


def load_site(path: str | Path, drivers: Collection[str] | None = None) -> SiteConfig:
    """The site of one file; ``ConfigError`` lists every problem.

    ``drivers`` are the names bindings may use; by default ``default_drivers()``
    (the builtin drivers and the plug-ins given to ``register_driver``).
    """
    result = _read(Path(path), default_drivers() if drivers is None else drivers)
    if result.issues or result.config is None:
        raise ConfigError(result.issues)
    return result.config


def load_sites(path: str | Path, drivers: Collection[str] | None = None) -> list[SiteConfig]:
    """Every site of a file or a folder, in file-name order; ``ConfigError`` lists every problem.

    Every file is read and checked even after a bad one, and a site id used by
    two files is a problem of the second.
    """
    names = default_drivers() if drivers is None else drivers
    files = site_files(path)
    if not files:
        raise ConfigError([ConfigIssue(str(path), 1, 1, "no site files here: expected a folder "
                                       "with at least one *.yaml file (openbms init makes one)")])
    results = [_read(f, names) for f in files]
    first: dict[str, _FileResult] = {}
    for result in results:
        if result.site_id is None:
            continue
        if result.site_id in first:
            other = first[result.site_id]
            line, col = other.site_id_at
            result.issues.append(ConfigIssue(str(result.path), *result.site_id_at,
                                             f"site id {result.site_id!r} is already used by "
                                             f"{other.path}:{line}:{col}: expected each site in one "
                                             "file, with its own id"))
            result.issues.sort(key=lambda i: (i.line, i.column))
            result.config = None
        else:
            first[result.site_id] = result
    issues = [issue for result in results for issue in result.issues]
    if issues:
        raise ConfigError(issues)
    return [r.config for r in results if r.config is not None]


def check_path(path: str | Path, drivers: Collection[str] | None = None) -> list[ConfigIssue]:
    """Every problem of a site file or folder; an empty list when all is well."""
    try:
        load_sites(path, drivers)
    except ConfigError as err:
        return err.issues
    return []
