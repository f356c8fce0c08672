"""The central role: many edge sites into one PostgreSQL over MQTT (docs/multi-site.md).

::

    edges' bridges ─▶ broker ─▶ ingest workers (MQTT v5 shared subscriptions) ─▶ PostgreSQL
                                  decode.py: the bridges' messages, checked against their site
                                  ingest.py: samples to the historian, events and configurations
                                             to store.py's tables
                                  worker.py: one worker (history, tables, its connection)

This package imports no driver: the CLI (``openbms central``) gives a worker its
broker connection (``openbms.drivers.mqtt.ingest.SharedSubscriber``).
"""

from openbms.central.ingest import CentralIngest, topic_filters
from openbms.central.store import CentralStore
from openbms.central.worker import DEFAULT_GROUP, IngestWorker

__all__ = ["DEFAULT_GROUP", "CentralIngest", "CentralStore", "IngestWorker", "topic_filters"]
