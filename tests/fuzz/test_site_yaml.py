"""Property-based fuzzing of the site-file loader: any text is a site or placed problems, never a crash."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openbms.config import check_path

from .targets import site_yaml

FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Pieces of YAML syntax, so that generated text reaches the parser's corners rather than its
# first error: anchors and aliases, merge keys, tags, flow and block collections, scalars of
# every style, directives, document markers, and characters YAML refuses.
TOKENS = [
    "site:", " id: hq", "equipment:", "points:", "drivers:", "spaces:", "limits:", "- ", ": ", ", ",
    "\n", "\n  ", "\n    ", "\t", " ", "{", "}", "[", "]", "&a ", "&b ", "*a", "*b", "<<: ", "<<: *a",
    "!!int ", "!!str ", "!!float ", "!!binary ", "!!set ", "!!omap ", "!!timestamp ", "!foo ",
    "!!python/object:os.system ", "? ", "| ", ">- ", "'q'", '"\\x00"', '"\\ud800"', "'", '"', "#c",
    "---", "...", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "~", "null", "yes", "on", ".nan", "-.inf",
    "1e999", "0x1F", "0o17", "1_000", "2024-13-45", "2024-01-01T25:00:00", "12:30:00", "9" * 30,
    "sim://a/b", "kind: enum", "states: [a]", "unit: degC", "\x00", "\x07", "\ufeff", "\u2028",
    "\r", "\x85", "é", "=", "=:",
]

yaml_like = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20))
keys = st.sampled_from(["site", "id", "name", "timezone", "equipment", "points", "binding", "kind",
                        "unit", "limits", "min", "max", "writable", "spaces", "drivers", "type",
                        "states", "history", "alarms", "schedules", "calendars", "programs", "sim",
                        "bacnet", "poll", "area_m2", "relinquish_default", "tags", "x"])
documents = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=30)


@FUZZ
@given(st.text(max_size=300))
def test_any_text_is_a_site_or_placed_problems(text):
    site_yaml(text)


@FUZZ
@given(yaml_like)
def test_yaml_shaped_text_is_a_site_or_placed_problems(text):
    site_yaml(text)


@FUZZ
@given(documents)
def test_any_structure_is_a_site_or_placed_problems(data):
    site_yaml(yaml.safe_dump(data, allow_unicode=True))


@FUZZ
@given(st.dictionaries(keys, documents, max_size=4))
def test_a_site_with_garbage_beside_it_is_a_site_or_placed_problems(extra):
    site_yaml(yaml.safe_dump({"site": {"id": "hq", "timezone": "UTC"}, **extra}, allow_unicode=True))


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=200))
def test_any_bytes_in_a_file_give_problems_at_a_position_in_the_file(data):
    # Through the file: undecodable bytes, a byte-order mark, and the loader's own passes.
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "site.yaml"
        path.write_bytes(data)
        for issue in check_path(path):
            assert issue.file == str(path)
            assert issue.line >= 1 and issue.column >= 1
            assert issue.message
