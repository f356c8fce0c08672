"""The link's pacing of a backlog: at most ``outbox.rate`` messages a second, counted on a fake
monotonic clock (no sleeping, no timing)."""

from __future__ import annotations

from openbms.drivers.mqtt.link import Pacer


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_a_backlog_goes_at_most_rate_a_second_after_one_burst():
    now = FakeTime()
    pacer = Pacer(50.0, burst=50.0, now=now)
    sent = pacer.allow(300)
    assert sent == 50  # the burst: one second's worth, not the whole window
    assert pacer.allow(300) == 0 and pacer.wait() == 1 / 50
    for _ in range(80):  # ten seconds in steps of 1/8 s (exact in binary)
        now.t += 0.125
        sent += pacer.allow(300)
    assert sent == 50 + 10 * 50


def test_a_slow_rate_still_sends_one_at_a_time():
    now = FakeTime()
    pacer = Pacer(0.5, burst=0.5, now=now)  # one message every two seconds
    assert pacer.allow(10) == 1
    now.t += 1.0
    assert pacer.allow(10) == 0 and pacer.wait() == 1.0
    now.t += 1.0
    assert pacer.allow(10) == 1
