"""A change-of-value notification's values (present value and status flags) are one sample:
an out-of-service point does not record ``ok`` at each subscription, and a status change does
not also store a sample with the old status (issue 15, item 5)."""

from __future__ import annotations

from openbms.model import STALE
from tests.fixtures.waiting import eventually
from tests.integration.test_bacnet_cov import start


def _statuses(got, point: str) -> list[str]:
    return [s.status for s in got if s.point == point]


async def test_an_out_of_service_point_stays_stale_through_its_subscription():
    sim, driver, manager, got = await start()
    sim[1001].objects[("analog-input", 1)].outOfService = True
    await manager.start()
    try:
        await eventually(lambda: manager.health()["bacnet://1001"].subscribed, "subscription")
        # A change after the subscription: its notification comes after the initial one.
        sim[1001].set_value(("analog-input", 1), 17.25)
        await eventually(lambda: any(s.point == "hq/d1001/sat" and s.value == 17.25 for s in got),
                         "the change on the bus")
        statuses = _statuses(got, "hq/d1001/sat")
        assert len(statuses) >= 2  # the poll, the subscription's report and the change
        assert set(statuses) == {STALE}, statuses
    finally:
        await manager.stop()
        await driver.stop()
        sim.stop()


async def test_a_status_change_is_one_sample_with_the_new_status():
    sim, driver, manager, got = await start()
    await manager.start()
    try:
        await eventually(lambda: manager.health()["bacnet://1001"].subscribed, "subscription")
        sim[1001].set_value(("analog-input", 1), 17.25)
        await eventually(lambda: any(s.point == "hq/d1001/sat" and s.value == 17.25 for s in got),
                         "a change on the bus")
        got.clear()
        # Taken out of service with a new value: one notification with both.
        obj = sim[1001].objects[("analog-input", 1)]
        # bacpypes3's change detection watches the status-flags property, which it works out
        # from out-of-service: set it first, or it sees no change.
        obj.statusFlags = [0, 0, 0, 1]
        obj.outOfService = True
        sim[1001].set_value(("analog-input", 1), 18.5)
        await eventually(lambda: any(s.point == "hq/d1001/sat" and s.value == 18.5 for s in got),
                         "the next change")
        sim[1001].set_value(("analog-input", 1), 19.5)  # the next one: all are in
        await eventually(lambda: any(s.point == "hq/d1001/sat" and s.value == 19.5 for s in got),
                         "the change after")
        samples = [(s.value, s.status) for s in got if s.point == "hq/d1001/sat"]
        assert samples == [(18.5, STALE), (19.5, STALE)], samples
    finally:
        await manager.stop()
        await driver.stop()
        sim.stop()
