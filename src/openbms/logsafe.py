"""Rate-limited logging for messages that anyone on the network can cause.

A BACnet/IP socket takes datagrams from whoever sends them, and protocol
libraries log what they cannot parse (bacpypes3 logs each malformed datagram
at error level with a full traceback): without a limit an unauthenticated
sender fills the disk. :func:`guard` puts a :class:`NoiseLimiter` on every
logger of a tree (``bacpypes3``, a driver's noise logger), whatever handlers
the application has::

    record ──▶ kind = (logger, level, message template)
                 │
                 ├─ first of its kind ─────────────▶ logged as is (its one traceback)
                 ├─ again within ``interval`` s ────▶ counted per sender, dropped
                 └─ again after ``interval`` s ─────▶ logged as one summary, no traceback:
                      "1234 malformed datagrams from 127.0.0.5 in the last 60 s (last: …)"

The sender of a record is whatever :data:`SOURCE` holds while it is logged
(a driver sets it around the processing of each datagram). Memory is bounded
whatever the sender does: at most ``max_kinds`` kinds (the rest share one
"other messages" kind) and ``max_sources`` senders per kind (the rest are
counted together); the kind is the message template, never the formatted
text, so senders cannot mint new kinds. Time is the record's own
``created`` stamp unless a ``clock`` is given (tests move one by hand).
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["SOURCE", "NoiseLimiter", "from_source", "guard", "limiter", "unguard"]

#: The network sender of whatever is being processed (``None``: not known).
SOURCE: contextvars.ContextVar[str | None] = contextvars.ContextVar("openbms_source", default=None)

INTERVAL = 60.0
MAX_KINDS = 64
MAX_SOURCES = 8
_OTHER = ("", 0, "other messages")


@contextmanager
def from_source(source: str) -> Iterator[None]:
    """Attribute what is logged inside the block to ``source`` (an address)."""
    token = SOURCE.set(source)
    try:
        yield
    finally:
        SOURCE.reset(token)


@dataclass(slots=True)
class _Kind:
    """What was suppressed of one kind since its last line."""

    label: str
    since: float  # when the last line of this kind was logged
    count: int = 0
    sources: dict[str, int] = field(default_factory=dict)
    others: int = 0  # from senders past the first MAX_SOURCES


class NoiseLimiter:
    """First record of a kind, then one summary per ``interval`` seconds; bounded memory.

    ``labels`` names kinds for summaries: (logger name, message template) →
    a plural noun such as ``"malformed datagrams"``.
    """

    def __init__(self, interval: float = INTERVAL, max_kinds: int = MAX_KINDS,
                 max_sources: int = MAX_SOURCES,
                 labels: Mapping[tuple[str, str], str] | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        if not interval > 0 or max_kinds < 1 or max_sources < 0:
            raise ValueError("NoiseLimiter: interval must be > 0 s, max_kinds >= 1 and "
                             f"max_sources >= 0 (got {interval}, {max_kinds}, {max_sources})")
        self.interval = float(interval)
        self.max_kinds = max_kinds
        self.max_sources = max_sources
        self.labels = dict(labels or {})
        self.clock = clock
        self._kinds: dict[tuple[str, int, str], _Kind] = {}
        self.seen = 0  # records that came to the limiter, in all
        self.suppressed = 0  # records dropped, in all

    def admit(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` is logged; a record that closes a window becomes its summary."""
        self.seen += 1
        template = record.msg if isinstance(record.msg, str) else type(record.msg).__name__
        key = (record.name, record.levelno, template)
        kind = self._kinds.get(key)
        now = record.created if self.clock is None else self.clock()
        if kind is None:
            if len(self._kinds) < self.max_kinds:
                label = self.labels.get((record.name, template)) or f"records like {template!r}"
                self._kinds[key] = _Kind(label, now)
                return True
            key = _OTHER
            kind = self._kinds.get(key)
            if kind is None:
                self._kinds[key] = _Kind("other messages", now)
                return True
        self._count(kind)
        if now < kind.since:  # the wall clock was set back: start the window again
            kind.since = now
        if now - kind.since < self.interval:
            self.suppressed += 1
            return False
        self._summarise(kind, record, now)
        return True

    def _count(self, kind: _Kind) -> None:
        kind.count += 1
        source = SOURCE.get()
        if source is None:
            return
        if source in kind.sources:
            kind.sources[source] += 1
        elif len(kind.sources) < self.max_sources:
            kind.sources[source] = 1
        else:
            kind.others += 1

    def _summarise(self, kind: _Kind, record: logging.LogRecord, now: float) -> None:
        """Turn ``record`` into the line that reports what its kind did since its last line."""
        last = record.getMessage()
        if kind.count > 1:
            record.msg = "%d %s%s in the last %.0f s (last: %s)"
            record.args = (kind.count, kind.label, self._senders(kind), now - kind.since, last)
        else:  # nothing suppressed: the record as it came, but one traceback per kind is enough
            record.msg, record.args = last, None
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        record.noise_summary = True
        kind.since, kind.count, kind.others = now, 0, 0
        kind.sources.clear()

    @staticmethod
    def _senders(kind: _Kind) -> str:
        if not kind.sources:
            return ""
        top = sorted(kind.sources.items(), key=lambda item: (-item[1], item[0]))
        text = ", ".join(f"{source} ({n})" if len(top) > 1 else source for source, n in top)
        if kind.others:
            text += f" and {kind.others} from other senders"
        return f" from {text}"

    def pending(self) -> int:
        """Records counted but not yet reported in a summary."""
        return sum(k.count for k in self._kinds.values())


class _Guard(logging.Filter):
    """Put on each logger of a guarded tree: passes what the limiter admits."""

    def __init__(self, limiter: NoiseLimiter) -> None:
        super().__init__()
        self.limiter = limiter

    def filter(self, record: logging.LogRecord) -> bool:
        return self.limiter.admit(record)


_guards: dict[str, _Guard] = {}


def _tree(name: str) -> list[logging.Logger]:
    """Logger ``name`` and every child logger that exists now."""
    prefix = name + "."
    loggers = [logging.getLogger(name)]
    for key, logger in list(logging.Logger.manager.loggerDict.items()):
        if key.startswith(prefix) and isinstance(logger, logging.Logger):
            loggers.append(logger)
    return loggers


def guard(name: str, limiter: NoiseLimiter | None = None) -> NoiseLimiter:
    """Rate-limit logger ``name`` and its children; returns the limiter in place.

    A filter goes on every logger of the tree that exists at the call (a
    filter on a parent does not see its children's records), so call it again
    after importing more of the library: calls are idempotent. A given
    ``limiter`` replaces the one in place. Handlers and propagation are left
    as they are.
    """
    existing = _guards.get(name)
    if existing is None:
        existing = _guards[name] = _Guard(limiter or NoiseLimiter())
    elif limiter is not None:
        existing.limiter = limiter
    for logger in _tree(name):
        if existing not in logger.filters:
            logger.addFilter(existing)
    return existing.limiter


def limiter(name: str) -> NoiseLimiter | None:
    """The limiter guarding logger tree ``name``, if any."""
    existing = _guards.get(name)
    return existing.limiter if existing is not None else None


def unguard(name: str) -> None:
    """Undo :func:`guard`: the tree logs everything again."""
    existing = _guards.pop(name, None)
    if existing is not None:
        for logger in _tree(name):
            logger.removeFilter(existing)
