"""The current-value cache keeps the newest sample per point."""

from openbms.model import Sample
from openbms.runtime.cache import CurrentValueCache

T0 = 1_700_000_000.0


def test_newer_samples_replace_and_late_ones_do_not():
    cache = CurrentValueCache()
    cache.update([Sample("a", T0, 1.0), Sample("b", T0, 2.0)])
    cache.update([Sample("a", T0 + 10, 3.0)])
    cache.update([Sample("a", T0 + 5, 9.0), Sample("b", T0 + 1, 4.0)])  # 'a' is late
    assert cache.get("a") == Sample("a", T0 + 10, 3.0)
    assert cache.get("b") == Sample("b", T0 + 1, 4.0)
    assert cache.get_many(["a", "zzz"]) == {"a": Sample("a", T0 + 10, 3.0), "zzz": None}
    assert sorted(cache.points()) == ["a", "b"] and len(cache) == 2


def test_within_one_batch_the_newest_sample_of_a_point_wins():
    cache = CurrentValueCache()
    cache.update([Sample("a", T0 + 2, 2.0), Sample("a", T0 + 1, 1.0)])
    assert cache.get("a").value == 2.0
