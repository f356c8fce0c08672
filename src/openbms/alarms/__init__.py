"""Alarms: rules on points, the alarm lifecycle, and notifications.

``rules`` holds the configuration models of the ``alarms:`` list of a site
file, ``expression`` the safe evaluator of expression rules, ``engine`` the
engine that runs each alarm's lifecycle, and ``notify`` the webhook and
e-mail notifiers with their router. Wiring, in short::

    engine = AlarmEngine(rules, clock, on_event=lambda e: (store(e), notifier.submit(e)))
    bus.subscribe_callback(sorted(engine.points), engine.feed, name="alarms")
    asyncio.create_task(engine.run(interval=1.0))
"""

from openbms.alarms.engine import (
    ACTIVE_ACKED,
    ACTIVE_UNACKED,
    NORMAL,
    RETURNED_UNACKED,
    Alarm,
    AlarmEngine,
    AlarmError,
    AlarmEvent,
    Note,
    Transition,
)
from openbms.alarms.expression import Expression, ExpressionError
from openbms.alarms.notify import (
    EmailNotifier,
    NotificationsConfig,
    Notifier,
    Route,
    WebhookNotifier,
)
from openbms.alarms.rules import AlarmRule, check_rules, parse_rules

__all__ = [
    "ACTIVE_ACKED",
    "ACTIVE_UNACKED",
    "NORMAL",
    "RETURNED_UNACKED",
    "Alarm",
    "AlarmEngine",
    "AlarmError",
    "AlarmEvent",
    "AlarmRule",
    "EmailNotifier",
    "Expression",
    "ExpressionError",
    "Note",
    "NotificationsConfig",
    "Notifier",
    "Route",
    "Transition",
    "WebhookNotifier",
    "check_rules",
    "parse_rules",
]
