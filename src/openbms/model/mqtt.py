"""A site's link to an MQTT broker (the site file's ``mqtt:`` section).

The ``mqtt`` *driver* (``drivers: mqtt:``) reads points from a broker. This
section is the other direction and the front door: the telemetry bridge
publishes the site's samples, alarm and command changes; the store-and-forward
outbox keeps them while the broker is away; command/response lets a client
(a designer, a cloud service, the central openbms) send the site requests;
Home Assistant discovery announces points to Home Assistant. Topics are
``{prefix}/{site}/...`` so one site's credentials (a broker ACL on the prefix)
cannot reach another's.

Secrets are never in the file: user names and passwords come from an
environment variable (``*_env``, its name) or a file (``*_file``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from openbms.model.fields import Interval

__all__ = ["BridgeSettings", "CommandSettings", "HomeAssistantSettings", "MqttSettings",
           "OutboxSettings"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True,
                              allow_inf_nan=False)


class BridgeSettings(_Strict):
    """What the telemetry bridge publishes (``mqtt: bridge:``)."""

    enabled: bool = True
    per_point: bool = Field(
        default=True, description="one message a sample on {prefix}/{site}/{equipment}/{point}")
    per_device: bool = Field(
        default=False, description="one message a device poll on {prefix}/{site}/devices/{device}")
    format: Literal["json", "sparkplug"] = Field(default="json", description="of the per-device batches")
    group: str | None = Field(
        default=None, pattern=r"^[^+#/\x00]+$", max_length=200,
        description="Sparkplug B group id (format: sparkplug); default: the prefix when it is one "
                    "topic level, else the site id")
    qos: Literal[0, 1] = 1
    retain: bool = Field(default=False, description="per-point messages retained (a subscriber's last value)")
    heartbeat: Interval = Field(
        default=30.0, description="seconds between heartbeats on {prefix}/{site}/status")
    alarms: bool = Field(default=True, description="alarm changes on {prefix}/{site}/alarms")
    commands: bool = Field(default=True, description="command changes on {prefix}/{site}/commands")
    config: bool = Field(
        default=False, description="the site's configuration on {prefix}/{site}/config (retained, "
                                   "versioned): on for an edge of a central openbms")


class OutboxSettings(_Strict):
    """The store-and-forward queue (``mqtt: outbox:``): what is kept while the broker is away."""

    max_mb: float = Field(
        default=256.0, gt=0, le=1_000_000, description="megabytes on disk; oldest dropped first")
    max_age: Interval = Field(default=7 * 86400.0, description="seconds; older messages are dropped")
    rate: float = Field(
        default=5000.0, gt=0, le=10_000_000, description="messages a second when draining a backlog")


class CommandSettings(_Strict):
    """Command/response over MQTT (``mqtt: commands:``): requests on
    ``{prefix}/{site}/command/{name}/request``, answers on ``…/response``."""

    enabled: bool = False
    priority: int = Field(default=8, ge=1, le=16, description="of a write that names none")
    max_bytes: int = Field(default=65_536, ge=1024, le=16 << 20,
                           description="the largest request taken; a bigger one is refused (too_large)")
    remember: int = Field(default=10_000, ge=1, le=1_000_000,
                          description="correlation ids remembered, to answer a duplicate once")
    remember_s: Interval = Field(default=600.0,
                                 description="seconds a correlation id is remembered")
    concurrency: int = Field(default=32, ge=1, le=1024, description="requests handled at once")
    #: The edge keeps control authority: the users whose tokens a central openbms holds write
    #: and release at ``min_priority`` or less urgent, never over life safety or this site's
    #: own operators (1-8 by default).
    central_users: list[str] = Field(
        default_factory=list,
        description="the openbms users (their e-mail) whose API tokens the central openbms holds")
    min_priority: int = Field(
        default=9, ge=1, le=16,
        description="the most urgent priority a request of a central_users user may write or "
                    "release at; a more urgent one is refused")


class HomeAssistantSettings(_Strict):
    """Home Assistant MQTT discovery (``mqtt: homeassistant:``): the site's points announced as
    Home Assistant entities, and Home Assistant's commands written through the arbiter at
    ``priority`` as the user of the openbms API token ``token_env`` / ``token_file`` names (no
    token: the entities are announced, their commands refused)."""

    #: The name of the command request a Home Assistant command becomes, between the service
    #: that receives it and the API that executes it: two topic levels, so no client's request
    #: on ``{prefix}/{site}/command/{name}/request`` can name it.
    COMMAND: ClassVar[str] = "homeassistant/set"

    enabled: bool = False
    discovery_prefix: str = Field(default="homeassistant", pattern=r"^[^+#/\x00]+$")
    priority: int = Field(default=8, ge=1, le=16, description="of the writes Home Assistant makes")
    token_env: str | None = Field(
        default=None, min_length=1,
        description="environment variable holding the openbms API token Home Assistant's commands use")
    token_file: str | None = Field(
        default=None, min_length=1, description="file holding that token (instead of token_env)")

    @model_validator(mode="after")
    def _one_token_source(self) -> HomeAssistantSettings:
        if self.token_env and self.token_file:
            raise ValueError("give token_env or token_file, not both")
        return self


class MqttSettings(_Strict):
    """The site's broker and what openbms does on it (``mqtt:``)."""

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    client_id: str | None = Field(default=None, min_length=1, max_length=128,
                                  description="default: openbms-{site}-{8 random hex digits}")
    keepalive: int = Field(default=60, ge=5, le=65535)
    prefix: str = Field(default="openbms", pattern=r"^[^+#/\x00]+(/[^+#/\x00]+)*$", max_length=200,
                        description="topics are {prefix}/{site}/...: one or more levels, no wildcards")
    username_env: str | None = None
    username_file: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    timeout: Interval = Field(
        default=3.0, description="seconds to connect, and the longest wait for an acknowledgement")
    bridge: BridgeSettings = BridgeSettings()
    outbox: OutboxSettings = OutboxSettings()
    commands: CommandSettings = CommandSettings()
    homeassistant: HomeAssistantSettings = HomeAssistantSettings()

    @model_validator(mode="after")
    def _one_source_each(self) -> MqttSettings:
        for what in ("username", "password"):
            if getattr(self, f"{what}_env") and getattr(self, f"{what}_file"):
                raise ValueError(f"give {what}_env or {what}_file, not both")
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together (a client certificate and its key)")
        return self
