"""One central ingest worker: the PostgreSQL historian, the centre's tables, and its connection.

::

    IngestWorker.start():  historian (PostgreSQL; or the given sink) ─▶ CentralStore ─▶ CentralIngest
                           ─▶ subscriber
    IngestWorker.stop():   subscriber ─▶ ingest (queued events written) ─▶ store ─▶ historian (flushed)

With ``ask`` and ``token`` the worker also sends the centre's commands (``Dispatcher``) and
backfills each site whose edge comes online from the edge's historian (``AutoBackfill``: the
last ``backfill_hours``, one site at a time, on a PostgreSQL history of its own per run).

The connection to the broker is given as a factory (``connect(filters, handler)``)
so this package imports no driver: ``openbms central run`` passes the MQTT
driver's ``SharedSubscriber``. Several workers (processes, or connections in
one) with the same ``group`` split the edges' samples and events.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

from openbms.central.backfill import AutoBackfill
from openbms.central.commands import DEFAULT_KEEP_S, Ask, CommandQueue, Dispatcher
from openbms.central.ingest import CentralIngest, SampleSink, topic_filters
from openbms.central.store import CentralStore
from openbms.errors import HistorianError
from openbms.historian import Historian, open_historian
from openbms.runtime.clock import Clock, WallClock

__all__ = ["DEFAULT_BACKFILL_HOURS", "DEFAULT_GROUP", "IngestWorker", "Subscriber", "libpq_url"]

log = logging.getLogger(__name__)

#: The shared subscription group of ``openbms central`` workers unless told otherwise.
DEFAULT_GROUP = "openbms-central"
#: Hours an edge coming online is backfilled over unless told otherwise.
DEFAULT_BACKFILL_HOURS = 24.0


class Subscriber(Protocol):
    """A broker connection that hands each message to its handler (``SharedSubscriber``)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def health(self) -> dict[str, Any]: ...


#: ``connect(filters, handler)``; the handler returns a receipt the connection acknowledges the
#: message after (``CentralIngest.handle``), or None.
Connect = Callable[[Sequence[str], Callable[[str, bytes], Any]], Subscriber]


def libpq_url(url: str) -> str:
    """A PostgreSQL URL as libpq takes it (SQLAlchemy's ``postgresql+psycopg://`` accepted)."""
    for scheme in ("postgresql+psycopg://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql://" + url[len(scheme):]
    return url


class IngestWorker:
    """Ingest of the bridges under ``prefix`` into the PostgreSQL database ``history_url``."""

    def __init__(self, history_url: str, connect: Connect, *, prefix: str = "openbms",
                 group: str = DEFAULT_GROUP, clock: Clock | None = None,
                 sink: SampleSink | None = None, ask: Ask | None = None,
                 token: Callable[[str], str | None] | None = None,
                 backfill_hours: float = DEFAULT_BACKFILL_HOURS,
                 keep_commands_s: float = DEFAULT_KEEP_S,
                 **historian_options: Any) -> None:
        if not libpq_url(history_url).startswith("postgresql://"):
            raise ValueError(f"the central's history is PostgreSQL: expected a postgresql:// URL, "
                             f"not {history_url.split(':', 1)[0]}:")
        self.history_url = libpq_url(history_url)
        self.clock = clock or WallClock()
        self.prefix = prefix
        self.group = group
        self._connect = connect
        self._historian_options = historian_options
        #: Where samples go: a running system's bus (``CentralServer``), else this worker's own
        #: PostgreSQL historian.
        self.sink = sink
        self.historian: Historian | None = None
        self.store: CentralStore | None = None
        self.ingest: CentralIngest | None = None
        self.subscriber: Subscriber | None = None
        #: Commands from the centre, sent with ``ask`` and each site's ``token`` (both given).
        self._ask = ask
        self._token = token
        self.dispatcher: Dispatcher | None = None
        #: Backfills of edges coming online (with ``ask`` and ``token``; ``backfill_hours`` 0: none).
        self.backfill_hours = backfill_hours
        self.backfill: AutoBackfill | None = None
        #: Seconds the commands done with are kept (the dispatcher prunes older ones).
        self.keep_commands_s = keep_commands_s

    async def start(self) -> None:
        """Open the history and the tables, then subscribe; a failure stops what was started."""
        try:
            sink = self.sink
            if sink is None:
                self.historian = open_historian(self.history_url, clock=self.clock,
                                                **self._historian_options)
                await self.historian.start()
                sink = self.historian
            self.store = CentralStore(self.history_url)
            await self.store.start()
            self.ingest = CentralIngest(sink, self.store, self.clock, self.prefix)
            await self.ingest.start()
            if self._ask is not None and self._token is not None:
                dispatcher = Dispatcher(CommandQueue(self.history_url), self._ask,
                                        self.ingest.is_online, self._token, self.clock,
                                        keep_s=self.keep_commands_s)
                self.dispatcher = dispatcher
                await dispatcher.start()
                backfill = None
                if self.backfill_hours > 0:
                    store = self.store
                    backfill = AutoBackfill(self._backfill_history, self._ask, self._token,
                                            self.clock, hours=self.backfill_hours,
                                            online=self.ingest.is_online,
                                            record=store.put_events, store=store)
                    self.backfill = backfill
                    await backfill.start()

                def online(site: str) -> None:
                    dispatcher.poke()
                    if backfill is not None:
                        backfill.request(site)

                self.ingest.on_online = online
            shared, plain = topic_filters(self.prefix, self.group)
            self.subscriber = self._connect([*shared, *plain], self.ingest.handle)
            await self.subscriber.start()
        except BaseException:
            await self.stop()
            raise

    @contextlib.asynccontextmanager
    async def _backfill_history(self) -> AsyncIterator[Historian]:
        """A PostgreSQL history of a backfill run's own: its point index read now (another
        worker's points included), its writes flushed and rolled up when it closes."""
        history = open_historian(self.history_url, clock=self.clock, **self._historian_options)
        await history.start()
        try:
            yield history
        finally:
            await history.stop()

    async def stop(self) -> None:
        """Unsubscribe, write what is queued, flush the history, close."""
        backfill, self.backfill = self.backfill, None
        if backfill is not None:
            await backfill.stop()
        dispatcher, self.dispatcher = self.dispatcher, None
        if dispatcher is not None:
            await dispatcher.stop()
        subscriber, self.subscriber = self.subscriber, None
        if subscriber is not None:
            await subscriber.stop()
        ingest, self.ingest = self.ingest, None
        if ingest is not None:
            await ingest.stop()
        store, self.store = self.store, None
        if store is not None:
            await store.stop()
        historian, self.historian = self.historian, None
        if historian is not None:
            try:
                await historian.stop()
            except HistorianError as err:  # said once; what stop could not flush is counted there
                log.error("central: the history did not close cleanly: %s", err)

    def health(self) -> dict[str, Any]:
        """The connection's, the ingest's and the history's counters."""
        out: dict[str, Any] = {}
        if self.subscriber is not None:
            out["broker"] = self.subscriber.health()
        if self.ingest is not None:
            out["ingest"] = self.ingest.health()
        if self.dispatcher is not None:
            out["commands"] = self.dispatcher.health()
        if self.backfill is not None:
            out["backfill"] = self.backfill.health()
        if self.historian is not None:
            st = self.historian.stats()
            out["history"] = {"stored": st.stored, "backlog": st.backlog, "dropped": st.dropped}
        return out
