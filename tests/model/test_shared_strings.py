"""Per-point strings are shared, not copied per holder (issue 15: 100 000 points in 600 MB).

The manager, the cache, the historian, the alarms and the programs each keep every point's id,
and every binding names its driver, device and object: one string each, not one per copy.
"""
from __future__ import annotations

from openbms.model import parse_binding
from openbms.model.site import SiteConfig


def test_each_call_of_points_gives_the_same_id_strings():
    site = SiteConfig.model_validate({"site": {"id": "hq"}, "equipment": [
        {"id": "ahu-1", "points": [{"name": "sat"}, {"name": "rat"}]}]})
    first, second = site.points(), site.points()
    assert [pid for pid, _, _ in first] == ["hq/ahu-1/sat", "hq/ahu-1/rat"]
    assert all(a[0] is b[0] for a, b in zip(first, second, strict=True))


def test_bindings_of_one_device_share_their_driver_device_and_object_strings():
    a = parse_binding("bacnet://100001/analog-input,1")
    b = parse_binding("bacnet://100001/analog-input,2")
    c = parse_binding("bacnet://100002/analog-input,1")
    assert a.scheme is b.scheme is c.scheme
    assert a.device is b.device
    assert a.path is c.path


def test_points_written_alike_share_one_set_of_field_names_and_copies_stay_apart():
    site = SiteConfig.model_validate({"site": {"id": "hq"}, "equipment": [
        {"id": "ahu-1", "points": [{"name": "sat", "unit": "degC"}, {"name": "rat", "unit": "degC"},
                                   {"name": "sf", "kind": "bool"}]}]})
    sat, rat, sf = site.equipment[0].points
    assert sat.model_fields_set is rat.model_fields_set == {"name", "unit"}
    assert sf.model_fields_set == {"name", "kind"}
    copy = sat.model_copy(update={"description": "supply"})
    assert copy.model_fields_set == {"name", "unit", "description"}
    assert rat.model_fields_set == {"name", "unit"}  # the shared set is not changed by the copy
    assert sat.model_dump(exclude_unset=True) == {"name": "sat", "unit": "degC"}
