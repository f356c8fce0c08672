"""Alarm rules and notifications as configured (pydantic v2): the ``alarms:`` and ``notifications:``
sections of a site.

Six kinds, told apart by ``type``:

=================  ==========================================================
``high``/``low``   a number above/below a limit, with deadband and delays
``state``          a binary or enum point in one of its alarm states
``change_of_state``  any change of a binary/enum: an event, acknowledged only
``comm``           stale/offline status, or no sample at all, for a while
``expression``     a condition over several points (``openbms.model.expression``)
=================  ==========================================================

Rules are built once when a site loads, never per sample; the engine
(``openbms.alarms``) turns them into small trackers indexed by point id, and
its notifier sends what the ``notifications:`` routes ask for.

Every number is finite (NaN would make a limit never trip: every comparison
with NaN is false). Limits and deadbands are at most :data:`MAX_THRESHOLD` in
magnitude (wider than a device value's bound: a meter's running total in Wh
is compared, never written), delays and windows at most a week.
"""

from __future__ import annotations

import string
from typing import Annotated, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    field_validator,
    model_validator,
)

from openbms.model.expression import Expression
from openbms.model.fields import MAX_INTERVAL_S

__all__ = [
    "MAX_THRESHOLD",
    "AlarmRule",
    "ChangeOfStateRule",
    "CommRule",
    "EmailTarget",
    "ExpressionRule",
    "Flapping",
    "HighLimitRule",
    "LowLimitRule",
    "NotificationsConfig",
    "RouteConfig",
    "StateRule",
    "WebhookTarget",
]

#: Rule ids are short, URL-safe and lower-case: an alarm's id is its rule's id.
RuleId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]
PointRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:/-]+$", max_length=200)]
AlarmClass = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]*$", max_length=32)]

#: The names a message template may use, e.g. ``"{name}: {point} is {value:.1f}"``.
MESSAGE_FIELDS = frozenset({
    "name", "rule", "point", "value", "priority", "class", "limit", "deadband", "states",
    "expression", "status", "delay",
})


#: The largest magnitude of an alarm limit or deadband.
MAX_THRESHOLD = 1e15
_WEEK = MAX_INTERVAL_S


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True, populate_by_name=True,
                              allow_inf_nan=False)


class Flapping(_Strict):
    """The flapping guard: past ``changes`` condition changes within ``window_s`` the alarm stays active.

    A held alarm counts further changes (``flap_count``) and clears only once
    its condition has stayed normal for a whole ``window_s``.
    """

    enabled: bool = True
    changes: int = Field(default=5, ge=1, le=10_000)
    window_s: float = Field(default=600.0, gt=0, le=_WEEK)


class _Rule(_Strict):
    """What every rule has."""

    #: True for rules whose alarms are events: nothing to return from, acknowledging ends them.
    event_type: ClassVar[bool] = False
    default_message: ClassVar[str] = "{name}"

    id: RuleId
    name: str = ""
    priority: int = Field(default=100, ge=1, le=255, description="1 most urgent … 255 least (BACnet-like)")
    alarm_class: AlarmClass = Field(default="maintenance", alias="class")
    message: str | None = Field(default=None, description="template; None uses the rule type's default")
    enabled: bool = True
    flapping: Flapping = Flapping()

    @field_validator("message")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
        except ValueError as err:
            raise ValueError(f"message template: {err} (write a literal brace as {{{{ or }}}})") from None
        for f in fields:
            if f not in MESSAGE_FIELDS:
                known = ", ".join(sorted(MESSAGE_FIELDS))
                raise ValueError(f"message template: unknown field {{{f}}}; known fields: {known}")
        return value

    @property
    def points(self) -> tuple[str, ...]:
        """Every point the rule reads."""
        point = getattr(self, "point", None)
        return (point,) if isinstance(point, str) else ()

    @property
    def display_point(self) -> str:
        """The point an alarm of this rule is shown on."""
        return self.points[0]

    @property
    def template(self) -> str:
        """The message template in force."""
        return self.message if self.message is not None else self.default_message


class _Delays(_Strict):
    on_delay_s: float = Field(default=0.0, ge=0, le=_WEEK,
                              description="condition must hold this long to raise")
    off_delay_s: float = Field(default=0.0, ge=0, le=_WEEK,
                               description="condition must be gone this long to clear")


class HighLimitRule(_Rule, _Delays):
    """Alarm while a number is above ``limit``; clears below ``limit - deadband``."""

    default_message: ClassVar[str] = "{name}: {point} is {value}, above the limit {limit}"
    type: Literal["high"]
    point: PointRef
    limit: float = Field(ge=-MAX_THRESHOLD, le=MAX_THRESHOLD)
    deadband: float = Field(default=0.0, ge=0, le=MAX_THRESHOLD)


class LowLimitRule(_Rule, _Delays):
    """Alarm while a number is below ``limit``; clears above ``limit + deadband``."""

    default_message: ClassVar[str] = "{name}: {point} is {value}, below the limit {limit}"
    type: Literal["low"]
    point: PointRef
    limit: float = Field(ge=-MAX_THRESHOLD, le=MAX_THRESHOLD)
    deadband: float = Field(default=0.0, ge=0, le=MAX_THRESHOLD)


class StateRule(_Rule, _Delays):
    """Alarm while a binary or enum point is in one of ``alarm_states`` (true/false, a label or a number)."""

    default_message: ClassVar[str] = "{name}: {point} is {value}"
    type: Literal["state"]
    point: PointRef
    alarm_states: tuple[bool | int | str, ...] = Field(min_length=1)


class ChangeOfStateRule(_Rule):
    """Every change of a binary or enum point is an event that needs only acknowledging."""

    event_type: ClassVar[bool] = True
    default_message: ClassVar[str] = "{name}: {point} changed to {value}"
    type: Literal["change_of_state"]
    point: PointRef


class CommRule(_Rule):
    """Communication loss: a ``stale``/``offline`` status for ``delay_s``, or no sample for ``silence_s``.

    ``silence_s`` defaults to ``delay_s``; points that report only on change
    need a longer one. ``detect_silence: false`` watches the status only.
    """

    default_message: ClassVar[str] = "{name}: no communication with {point} ({status})"
    type: Literal["comm"]
    point: PointRef
    delay_s: float = Field(default=60.0, ge=0, le=_WEEK)
    silence_s: float | None = Field(default=None, gt=0, le=_WEEK)
    detect_silence: bool = True
    statuses: tuple[Literal["stale", "offline", "fault"], ...] = Field(default=("stale", "offline"),
                                                                       min_length=1)

    @property
    def silence_after(self) -> float | None:
        """Seconds without any sample before communication is lost; None when not watched."""
        if not self.detect_silence:
            return None
        after = self.silence_s if self.silence_s is not None else self.delay_s
        return after if after > 0 else None


class ExpressionRule(_Rule, _Delays):
    """Alarm while an expression over points is true, e.g. ```a/ahu-1/sat` > `a/ahu-1/sat-sp` + 3``.

    ``point`` is where the alarm is shown; by default the first point the
    expression reads.
    """

    default_message: ClassVar[str] = "{name}: {expression}"
    type: Literal["expression"]
    expression: str
    point: PointRef | None = None
    _compiled: Expression = PrivateAttr()

    @field_validator("expression")
    @classmethod
    def _valid(cls, value: str) -> str:
        # ExpressionError is a ValueError: pydantic reports it on this field, column included.
        if not Expression(value).points:
            raise ValueError("the expression reads no point: refer to points as `site/equip/point`")
        return value

    @model_validator(mode="after")
    def _compile(self) -> ExpressionRule:
        self._compiled = Expression(self.expression)
        return self

    @property
    def compiled(self) -> Expression:
        """The compiled expression."""
        return self._compiled

    @property
    def points(self) -> tuple[str, ...]:
        return self._compiled.points

    @property
    def display_point(self) -> str:
        return self.point or self._compiled.points[0]


AlarmRule = Annotated[
    HighLimitRule | LowLimitRule | StateRule | ChangeOfStateRule | CommRule | ExpressionRule,
    Field(discriminator="type"),
]


# ------------------------------------------------------------------------------- notifications


#: Bounds of a target's delivery settings: a timeout of an hour or a retry storm helps nobody.
_MAX_TIMEOUT_S = 300.0
_MAX_BACKOFF_S = 3600.0
_MAX_RETRIES = 100


TargetName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)]


class WebhookTarget(_Strict):
    """A webhook: each notification is POSTed as JSON."""

    type: Literal["webhook"]
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
    headers: dict[str, str] = {}
    timeout: float = Field(default=5.0, gt=0, le=_MAX_TIMEOUT_S, description="seconds per request")
    retries: int = Field(default=3, ge=0, le=_MAX_RETRIES)
    backoff: float = Field(default=1.0, ge=0, le=_MAX_BACKOFF_S,
                           description="seconds before the first retry, doubling")


class EmailTarget(_Strict):
    """An SMTP server and who receives the e-mails."""

    type: Literal["email"]
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    sender: str
    recipients: tuple[str, ...] = Field(min_length=1)
    starttls: bool = False
    use_ssl: bool = False
    username: str | None = None
    password: str | None = None
    password_env: str | None = Field(default=None, description="environment variable holding the password")
    timeout: float = Field(default=10.0, gt=0, le=_MAX_TIMEOUT_S)
    retries: int = Field(default=2, ge=0, le=_MAX_RETRIES)
    backoff: float = Field(default=2.0, ge=0, le=_MAX_BACKOFF_S)

    @model_validator(mode="after")
    def _tls(self) -> EmailTarget:
        if self.starttls and self.use_ssl:
            raise ValueError("choose one of 'starttls' (port 587) and 'use_ssl' (port 465)")
        return self


class RouteConfig(_Strict):
    """One route: alarms of these classes, at least this urgent, go to these targets."""

    notify: tuple[TargetName, ...] = Field(min_length=1)
    classes: tuple[str, ...] | None = None
    max_priority: int = Field(default=255, ge=1, le=255)
    on_return: bool = False


class NotificationsConfig(_Strict):
    """The ``notifications:`` section of a site file."""

    targets: dict[TargetName, Annotated[WebhookTarget | EmailTarget, Field(discriminator="type")]] = {}
    routes: tuple[RouteConfig, ...] = ()

    @model_validator(mode="after")
    def _known_targets(self) -> NotificationsConfig:
        for i, route in enumerate(self.routes):
            for name in route.notify:
                if name not in self.targets:
                    known = ", ".join(sorted(self.targets)) or "none defined"
                    raise ValueError(f"routes[{i}] notifies unknown target '{name}' (targets: {known})")
        return self
