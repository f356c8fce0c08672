"""The noise limiter: first of a kind, then a summary per window, in bounded memory."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest

from openbms import logsafe

TREE = "openbms_test_noise"


def record(msg: str, *args: object, at: float, name: str = "lib.io", level: int = logging.ERROR,
           traceback: bool = False) -> logging.LogRecord:
    exc_info = None
    if traceback:
        try:
            raise ValueError("bad datagram")
        except ValueError:
            exc_info = sys.exc_info()
    r = logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)
    r.created = at
    return r


def admit(limiter: logsafe.NoiseLimiter, r: logging.LogRecord, source: str | None = None) -> bool:
    if source is None:
        return limiter.admit(r)
    with logsafe.from_source(source):
        return limiter.admit(r)


def test_the_first_of_a_kind_passes_the_rest_become_one_summary_per_window():
    limiter = logsafe.NoiseLimiter(interval=60, labels={("lib.io", "bad PDU: %r"): "malformed datagrams"})
    first = record("bad PDU: %r", "x1", at=1000.0, traceback=True)
    assert admit(limiter, first, "127.0.0.5") and first.exc_info is not None
    passed = [admit(limiter, record("bad PDU: %r", f"x{i}", at=1000.0 + i / 100, traceback=True),
                    "127.0.0.5" if i % 4 else "127.0.0.6") for i in range(1, 1234)]
    assert not any(passed) and limiter.suppressed == 1233
    closing = record("bad PDU: %r", "last", at=1061.0, traceback=True)
    assert admit(limiter, closing, "127.0.0.5")
    assert closing.getMessage() == ("1234 malformed datagrams from 127.0.0.5 (926), 127.0.0.6 (308) "
                                    "in the last 61 s (last: bad PDU: 'last')")
    assert closing.exc_info is None and closing.levelno == logging.ERROR
    assert limiter.pending() == 0 and limiter.seen == 1235


def test_a_kind_seen_again_only_after_a_quiet_window_is_logged_as_it_is_without_traceback():
    limiter = logsafe.NoiseLimiter(interval=60)
    assert admit(limiter, record("unsupported message", at=0.0, traceback=True))
    again = record("unsupported message", at=500.0, traceback=True)
    assert admit(limiter, again)
    assert again.getMessage() == "unsupported message" and again.exc_info is None


def test_kinds_are_message_templates_so_senders_cannot_mint_new_ones():
    limiter = logsafe.NoiseLimiter(interval=60, max_sources=4)
    passed = sum(admit(limiter, record("bad PDU from %s", f"10.0.{i // 250}.{i % 250}", at=1.0),
                       f"10.0.{i // 250}.{i % 250}") for i in range(10_000))
    assert passed == 1
    (kind,) = limiter._kinds.values()
    assert len(kind.sources) == 4 and kind.others == 9_999 - 4
    summary = record("bad PDU from %s", "10.9.9.9", at=100.0)
    assert admit(limiter, summary, "10.9.9.9")
    assert " and 9996 from other senders in the last 99 s" in summary.getMessage()


def test_past_max_kinds_new_kinds_share_one_other_messages_kind():
    limiter = logsafe.NoiseLimiter(interval=60, max_kinds=3)
    passed = sum(admit(limiter, record(f"template {i} %s", i, at=1.0)) for i in range(5_000))
    assert passed == 4  # three kinds and the first of the others
    assert len(limiter._kinds) == 4
    summary = record("template 9999 %s", 1, at=62.0)
    assert admit(limiter, summary)
    assert summary.getMessage() == "4997 other messages in the last 61 s (last: template 9999 1)"


def test_levels_and_loggers_are_kinds_of_their_own():
    limiter = logsafe.NoiseLimiter()
    assert admit(limiter, record("x", at=1.0, level=logging.WARNING))
    assert admit(limiter, record("x", at=1.0, level=logging.ERROR))
    assert admit(limiter, record("x", at=1.0, name="lib.other"))
    assert not admit(limiter, record("x", at=1.0))


def test_a_clock_set_back_starts_the_window_again():
    limiter = logsafe.NoiseLimiter(interval=60)
    assert admit(limiter, record("x", at=1000.0))
    assert not admit(limiter, record("x", at=10.0))  # the wall clock went back by 990 s
    assert not admit(limiter, record("x", at=69.0))
    assert admit(limiter, record("x", at=70.0))


def test_an_injected_clock_replaces_the_records_time():
    now = [0.0]
    limiter = logsafe.NoiseLimiter(interval=60, clock=lambda: now[0])
    assert admit(limiter, record("x", at=1e9))
    assert not admit(limiter, record("x", at=2e9))
    now[0] = 60.0
    assert admit(limiter, record("x", at=0.0))


def test_bad_limits_are_refused_with_what_was_expected():
    with pytest.raises(ValueError, match="interval must be > 0 s"):
        logsafe.NoiseLimiter(interval=0)
    with pytest.raises(ValueError, match="max_kinds >= 1"):
        logsafe.NoiseLimiter(max_kinds=0)


@pytest.fixture
def tree() -> Iterator[None]:
    logging.getLogger(f"{TREE}.child.grandchild")
    yield
    logsafe.unguard(TREE)


def test_guard_limits_a_whole_logger_tree_and_unguard_restores_it(tree, caplog):
    limiter = logsafe.guard(TREE)
    assert logsafe.guard(TREE) is limiter and logsafe.limiter(TREE) is limiter  # idempotent
    deep = logging.getLogger(f"{TREE}.child.grandchild")
    for _ in range(100):
        deep.error("garbage from %s", "127.0.0.5")
        logging.getLogger(TREE).warning("top-level noise")
    assert [r.getMessage() for r in caplog.records] == ["garbage from 127.0.0.5", "top-level noise"]
    assert limiter.seen == 200 and limiter.suppressed == 198
    late = logging.getLogger(f"{TREE}.created.later")
    logsafe.guard(TREE)  # a second call covers loggers created since
    for _ in range(10):
        late.error("late noise")
    assert [r.getMessage() for r in caplog.records][-1] == "late noise" and len(caplog.records) == 3
    logsafe.unguard(TREE)
    assert logsafe.limiter(TREE) is None
    for _ in range(3):
        deep.error("garbage from %s", "127.0.0.5")
    assert len(caplog.records) == 6


def test_a_given_limiter_replaces_the_one_in_place(tree):
    first = logsafe.guard(TREE)
    mine = logsafe.NoiseLimiter(interval=1)
    assert logsafe.guard(TREE, mine) is mine and logsafe.guard(TREE) is mine
    assert first is not mine
