"""parse() gives the same data, positions and issues with libyaml's events as with PyYAML's parser.

libyaml takes a tab as separating white space (after ':' or before a comment) and
a byte-order mark at the start of any line, where PyYAML's parser reports a syntax
error or keeps the character; positions of an empty value in a flow mapping, of an
explicit key's and of a bare '---' differ. Such texts are read by PyYAML's parser
(found by a differential fuzz of the two, from a review).
"""
from __future__ import annotations

import pytest

from openbms.config import _yaml

CASES = [
    "site:\n  id: hq\n  timezone:\tEurope/London\n",     # tab after the colon
    "site:\n  id: hq   \t# the building\n",                # tab before a comment
    "---\n\ufeffsite: {id: hq}\n",                          # BOM at a line's start, not the file's
    "a: {b: }\n",                                           # empty value in a flow mapping
    "a: !\n",                                               # non-specific tag on an empty value
    "? .nannull-.inf[",                                     # explicit key
    "---",                                                  # a bare document start
    "\r---",                                                # ... after a line break other than \n
    "#c\x85---",
]


def _parse(text: str, libyaml: bool, monkeypatch: pytest.MonkeyPatch):
    with monkeypatch.context() as m:
        if not libyaml:
            m.setattr(_yaml, "_Parser", None)
        d = _yaml.parse(text)
    return d.data, d.keys, d.values, d.issues, d.broken


@pytest.mark.parametrize("text", CASES)
def test_libyaml_and_pure_python_agree(text, monkeypatch):
    assert _parse(text, True, monkeypatch) == _parse(text, False, monkeypatch)
