"""Keyset pages (schedules, calendars, programs, versions, alarms): the next cursor reads back."""

from __future__ import annotations

import pytest

from openbms.api.errors import ApiError
from openbms.api.helpers import encode_cursor, keyset_page


def test_every_item_is_seen_once_paging_with_the_next_cursor():
    items = [("p", i, f"a{i:02d}") for i in range(7)]  # a key of several fields, as alarms sort
    seen, cursor = [], None
    for _ in range(10):
        page, cursor = keyset_page(items, lambda t: [t[0], t[1], t[2]], 3, cursor)
        seen += page
        if cursor is None:
            break
    assert seen == items


@pytest.mark.parametrize("position", [{"k": [[1]]}, {"k": [float("inf")]}, {"k": list(range(100))},
                                      {"k": "a"}, {"k": [1], "x": {}}, {"k": []}, {"k": ["a"], "z": 1},
                                      {"z": 1}])
def test_a_tampered_keyset_cursor_is_a_400(position):
    import base64
    import json

    raw = json.dumps(position).encode()  # inf as Infinity: what a tamperer could send
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(ApiError) as err:
        keyset_page([("a",)], lambda t: [t[0]], 1, cursor)
    assert err.value.status == 400
    assert encode_cursor({"k": ["a"]})  # and a good one still encodes
