"""parse()'s fast path (straight from libyaml's events) gives what the full path gives, and is taken.

A site file of 100 000 points took 20 s to parse through PyYAML's composer and
the position-keeping builder (issue 15, 1 000 devices). The fast path builds the
data and positions from the events in one pass and leaves anything unusual
(aliases, merge keys, tags, repeated keys, errors) to the full path.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings

from openbms.config import _yaml

from ..fuzz.test_site_yaml import documents, yaml_like

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted([*(ROOT / "src/openbms/examples").glob("*/site.yaml"),
                *(ROOT / "tests/fuzz/corpus/site_yaml").glob("*.yaml")])
CASES = [
    "", "# only a comment\n", "site: {id: hq}\n", "a: 1\na: 2\n", "a: &x 1\nb: *x\n", "a: {<<: {b: 1}}\n",
    "~: 1\n", "'': 1\n", "? [a]\n: 1\n", "[a, [b, {c: d}]]\n", "a: !!int 3\n", "- 1\n---\n- 2\n",
    "a: 2024-13-45\n", "a: 2024-01-01\nb: 12:30:00\nc: 0x1F\nd: .nan\ne: yes\nf: on\ng: '1'\n",
    "a: |\n  text\n  more\nb: >-\n  folded\n", "a: \"\\x07\"\n", "a: 1e999\n", "on: off\n", "a: [\n",
    "a: b: c\n", "[" * 150 + "]" * 150, "a:\n" + "".join(f"  k{i}: v\n" for i in range(50)),
    "a: " + "9" * 5000 + "\n", "- a\n- b\n- - c\n  - d\n",
]


def _both(text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[tuple, tuple]:
    def fields(d: _yaml.Document) -> tuple:
        return d.data, d.keys, d.values, d.issues, d.broken

    fast = fields(_yaml.parse(text))
    with monkeypatch.context() as m:
        m.setattr(_yaml, "_fast", lambda *args: False)
        full = fields(_yaml.parse(text))
    return fast, full


@pytest.mark.parametrize("text", CASES)
def test_fast_and_full_paths_agree_on_odd_texts(text, monkeypatch):
    fast, full = _both(text, monkeypatch)
    assert fast == full


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_fast_and_full_paths_agree_on_the_shipped_sites(path, monkeypatch):
    fast, full = _both(path.read_text(encoding="utf-8"), monkeypatch)
    assert fast[0] is not None
    assert fast == full


FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


@FUZZ
@given(documents)
def test_fast_and_full_paths_agree_on_any_structure(monkeypatch, data):
    fast, full = _both(yaml.safe_dump(data, allow_unicode=True), monkeypatch)
    assert fast == full


@FUZZ
@given(yaml_like)
def test_fast_and_full_paths_agree_on_yaml_shaped_text(monkeypatch, text):
    fast, full = _both(text, monkeypatch)
    assert fast == full


def test_a_plain_site_file_composes_no_pyyaml_node(monkeypatch):
    # Before the fast path every key and value went through PyYAML's composer in Python
    # (720 000 nodes for 100 000 points: most of the 20 s of parsing).
    composed = []
    original = _yaml._Loader.compose_node

    def counting(self, parent, index):
        composed.append(1)
        return original(self, parent, index)

    monkeypatch.setattr(_yaml._Loader, "compose_node", counting)
    points = "".join(f'      - {{name: p{i}, unit: degC, binding: "sim://a/p{i}"}}\n' for i in range(200))
    doc = _yaml.parse("site: {id: hq, name: HQ}\nequipment:\n  - id: ahu-1\n    points:\n" + points)
    assert doc.issues == []
    assert len(doc.data["equipment"][0]["points"]) == 200
    assert doc.values[("equipment", 0, "points", 199, "binding")] == (204, 43)
    assert composed == []


def test_a_good_site_file_is_loaded_without_the_positions_of_every_value(tmp_path, monkeypatch):
    # The positions of 100 000 points' keys and values took 150 MB while the site loaded, and
    # the process kept the memory: they are found again only when there is a problem to place.
    from openbms.config import loader

    docs = []
    real_parse = loader.parse

    def keep(text, **options):
        docs.append(real_parse(text, **options))
        return docs[-1]

    monkeypatch.setattr(loader, "parse", keep)
    points = "".join(f'      - {{name: p{i}, unit: degC, binding: "sim://a/p{i}"}}\n' for i in range(500))
    path = tmp_path / "site.yaml"
    path.write_text("site: {id: hq, name: HQ}\nequipment:\n  - id: ahu-1\n    points:\n" + points)
    (site,) = loader.load_sites(path)
    assert len(site.points()) == 500
    assert len(docs) == 1 and len(docs[0].values) + len(docs[0].keys) < 20
    docs.clear()
    path.write_text(path.read_text().replace("unit: degC, binding: \"sim://a/p499\"",
                                             "unit: degCC, binding: \"sim://a/p499\""))
    (issue,) = loader.check_path(path)
    assert (issue.line, issue.column) == (504, 28) and "unknown unit 'degCC'" in issue.message
    assert len(docs) == 2  # read again, with positions, to place the problem
