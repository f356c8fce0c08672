"""Decoding an edge's per-device batch at the centre: the common case and every other one give the
same samples as checking each field one by one, and a bad item refuses its message with where and
what was expected."""

from __future__ import annotations

import orjson
import pytest

from openbms.central.decode import BadMessage, decode_batch
from openbms.model.sample import Sample

T = 1_765_000_000.0
TOPIC = "openbms/a/devices/d"


def batch(*items: object, site: str = "a") -> bytes:
    return orjson.dumps({"site": site, "device": "d", "samples": list(items)})


def test_plain_values_of_the_sites_points_are_taken_as_they_are():
    items = [{"point": "a/e/f", "value": 1.5, "status": "ok", "time": T},
             {"point": "a/e/i", "value": 3, "status": "stale", "time": T + 1},
             {"point": "a/e/b", "value": True, "status": "ok", "time": T + 2},
             {"point": "a/e/s", "value": "eco", "status": "overridden", "time": T + 3},
             {"point": "a/e/n", "value": None, "status": "offline", "time": T + 4},
             {"point": "a/e/d", "value": 2.0, "time": T + 5}]  # no status: ok
    samples, refused = decode_batch("a", batch(*items), TOPIC)
    assert refused == 0
    assert samples == [Sample("a/e/f", T, 1.5, "ok"), Sample("a/e/i", T + 1, 3, "stale"),
                       Sample("a/e/b", T + 2, True, "ok"), Sample("a/e/s", T + 3, "eco", "overridden"),
                       Sample("a/e/n", T + 4, None, "offline"), Sample("a/e/d", T + 5, 2.0, "ok")]
    assert [type(s.value) for s in samples] == [float, int, bool, str, type(None), float]


def test_a_whole_number_time_is_taken_as_seconds():
    samples, _ = decode_batch("a", batch({"point": "a/e/p", "value": 1.0, "time": 1_765_000_000}),
                              TOPIC)
    assert samples == [Sample("a/e/p", T, 1.0, "ok")] and type(samples[0].ts) is float


def test_another_sites_points_are_refused_and_counted_the_rest_taken():
    samples, refused = decode_batch("a", batch(
        {"point": "b/e/p", "value": 9.0, "time": T}, {"point": "a/e/p", "value": 1.0, "time": T},
        {"point": "ab/e/p", "value": 9.0, "time": T}), TOPIC)
    assert samples == [Sample("a/e/p", T, 1.0, "ok")] and refused == 2


@pytest.mark.parametrize(("item", "kind", "says"), [
    ({"point": "a/e/p", "value": 1.0, "time": "yesterday"}, "value", "time 'yesterday'"),
    ({"point": "a/e/p", "value": 1.0, "time": 12.0}, "value", "after 2000"),
    ({"point": "a/e/p", "value": 1.0, "time": True}, "value", "time True"),
    ({"point": "a/e/p", "value": 1.0}, "value", "time None"),
    ({"point": "a/e/p", "value": 1.0, "time": T, "status": "great"}, "value", "status 'great'"),
    ({"point": "a/e/p", "value": {"x": 1}, "time": T}, "value", "value is a JSON dict"),
    ({"point": "a/e/p", "value": [1], "time": T}, "value", "value is a JSON list"),
    ({"value": 1.0, "time": T}, "shape", "expected an object with a point"),
    ({"point": 7, "value": 1.0, "time": T}, "shape", "expected an object with a point"),
    ("a/e/p", "shape", "expected an object with a point"),
])
def test_a_bad_item_refuses_its_message_saying_which_and_what_was_expected(item, kind, says):
    good = {"point": "a/e/q", "value": 1.0, "time": T}
    with pytest.raises(BadMessage) as err:
        decode_batch("a", batch(good, item), TOPIC)
    assert err.value.kind == kind
    assert str(err.value).startswith(f"{TOPIC}: samples[1]") and says in str(err.value)


def test_a_message_of_another_site_or_of_another_shape_is_refused_whole():
    with pytest.raises(BadMessage) as err:
        decode_batch("a", batch({"point": "a/e/p", "value": 1.0, "time": T}, site="b"), TOPIC)
    assert err.value.kind == "site"
    with pytest.raises(BadMessage) as err:
        decode_batch("a", orjson.dumps({"site": "a", "samples": {}}), TOPIC)
    assert err.value.kind == "shape"
    with pytest.raises(BadMessage) as err:
        decode_batch("a", b"{not json", TOPIC)
    assert err.value.kind == "json"


async def test_a_site_sending_times_ahead_of_the_centres_clock_is_received_as_now():
    """An edge whose clock runs fast must not keep its site looking current after it dies: what
    is received counts at most as the centre's now (review: a future sample hid a dead edge)."""
    from typing import Any

    from openbms.central.ingest import CentralIngest
    from openbms.runtime.clock import ManualClock

    taken: list[Sample] = []

    class Sink:
        def ingest(self, samples: Any) -> None:
            taken.extend(samples)

    clock = ManualClock(1_765_000_000.0)
    ingest = CentralIngest(Sink(), None, clock)  # type: ignore[arg-type]  # no event comes
    ingest.handle("openbms/a/devices/sim:ahu-1",
                  batch({"point": "a/ahu-1/sat", "time": 1_765_003_600.0, "value": 14.0}))
    assert [s.ts for s in taken] == [1_765_003_600.0]  # stored with the edge's own time
    assert ingest.newest == {"a": 1_765_000_000.0}
    await clock.advance(600.0)
    assert ingest.lag() == {"a": 600.0}
