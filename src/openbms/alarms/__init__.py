"""Alarms: rules on points, the alarm lifecycle, and notifications.

The rules and notification settings are part of the site model
(``openbms.model.alarm``, expressions in ``openbms.model.expression``);
``rules`` checks a list of them as a whole, ``engine`` runs each alarm's
lifecycle, and ``notify`` holds the webhook and e-mail notifiers with their
router. Wiring, in short::

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
    PointText,
    Transition,
    point_texts,
)
from openbms.alarms.notify import EmailNotifier, Notifier, Route, WebhookNotifier
from openbms.alarms.rules import check_rules, parse_rules
from openbms.model.alarm import AlarmRule, NotificationsConfig
from openbms.model.expression import Expression, ExpressionError

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
    "PointText",
    "Route",
    "Transition",
    "WebhookNotifier",
    "check_rules",
    "parse_rules",
    "point_texts",
]
