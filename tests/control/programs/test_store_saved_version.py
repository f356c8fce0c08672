"""A save's answer (``SavedVersion``: the version number, and whether that save created it) can
be copied and pickled like the int it is, ``created`` kept (both raised TypeError)."""

from __future__ import annotations

import copy
import pickle

import pytest

from openbms.control.programs.store import SavedVersion


@pytest.mark.parametrize("created", [True, False])
def test_a_saved_version_copies_and_pickles_with_what_it_says(created: bool):
    saved = SavedVersion(7, created)
    pickled = [pickle.loads(pickle.dumps(saved, p)) for p in range(pickle.HIGHEST_PROTOCOL + 1)]
    copies = [copy.copy(saved), copy.deepcopy(saved), *pickled]
    for c in copies:
        assert type(c) is SavedVersion and c == 7 and c.created is created
    assert copy.deepcopy({"version": saved})["version"].created is created
