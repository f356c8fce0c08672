"""Configuration and state tables (SQLAlchemy Core), portable to SQLite and PostgreSQL.

Times are epoch seconds (UTC) in double-precision columns, as everywhere in
openbms: no time-zone conversion can creep in between the two backends.
JSON columns hold lists and small documents (tags, limits, policies).
History does not live here: it belongs to the historian backends.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["alarm_events", "api_tokens", "audit_log", "commands", "equipment", "forecasts", "login_failures",
           "metadata",
           "points", "program_versions", "programs", "refresh_tokens", "runtime_state", "site_grants",
           "sites", "spaces", "users"]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Time = sa.Float(precision=53)

sites = sa.Table(
    "sites", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
    sa.Column("area_m2", sa.Float, nullable=True),
    sa.Column("latitude", sa.Float, nullable=True),
    sa.Column("longitude", sa.Float, nullable=True),
    sa.Column("updated_at", Time, nullable=False),
)

spaces = sa.Table(
    "spaces", metadata,
    sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("parent_id", sa.String(64), nullable=True),
    sa.Column("area_m2", sa.Float, nullable=True),
    sa.Column("updated_at", Time, nullable=False),
)

equipment = sa.Table(
    "equipment", metadata,
    sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("space_id", sa.String(64), nullable=True),
    sa.Column("feeds", sa.JSON, nullable=False),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
)

points = sa.Table(
    "points", metadata,
    sa.Column("id", sa.String(200), primary_key=True),  # site/equipment/name
    sa.Column("site_id", sa.String(64), sa.ForeignKey("sites.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("equipment_id", sa.String(64), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("unit", sa.String(32), nullable=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("tags", sa.JSON, nullable=False),
    sa.Column("brick", sa.String(128), nullable=True),
    sa.Column("states", sa.JSON, nullable=True),
    sa.Column("writable", sa.Boolean, nullable=False),
    sa.Column("limits", sa.JSON, nullable=True),
    sa.Column("relinquish_default", sa.JSON, nullable=True),
    sa.Column("binding", sa.Text, nullable=True),
    sa.Column("poll", sa.Float, nullable=True),
    sa.Column("history", sa.JSON, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Index(None, "site_id", "equipment_id"),
)

commands = sa.Table(
    "commands", metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("point_id", sa.String(200), nullable=False),
    sa.Column("value", sa.JSON, nullable=True),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("release", sa.Boolean, nullable=False),
    sa.Column("expires_at", Time, nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.CheckConstraint("priority BETWEEN 1 AND 16", name="ck_commands_priority"),
    sa.Index(None, "point_id", "status"),
    sa.Index(None, "created_at"),
    sa.Index(None, "updated_at"),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("ts", Time, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(200), nullable=False, server_default=""),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Column("remote_addr", sa.String(64), nullable=True),
    sa.Index(None, "ts"),
    sa.Index(None, "actor", "ts"),
)

# A program belongs to one site, and its id is unique within that site only: two sites may each
# have a program "ahu", and a site cannot learn another's program ids from a refused save.
programs = sa.Table(
    "programs", metadata,
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("active_version", sa.Integer, nullable=True),
    sa.Column("updated_at", Time, nullable=False),
)

program_versions = sa.Table(
    "program_versions", metadata,
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("program_id", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("definition", sa.JSON, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
    sa.Column("comment", sa.Text, nullable=False, server_default=""),
    sa.ForeignKeyConstraint(["site_id", "program_id"], ["programs.site_id", "programs.id"],
                            ondelete="CASCADE"),
)

alarm_events = sa.Table(
    "alarm_events", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("alarm_id", sa.String(200), nullable=False),
    sa.Column("rule_id", sa.String(200), nullable=False),
    sa.Column("site_id", sa.String(64), nullable=False),
    sa.Column("point_id", sa.String(200), nullable=False, server_default=""),
    sa.Column("ts", Time, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("from_state", sa.String(32), nullable=False),
    sa.Column("to_state", sa.String(32), nullable=False),
    sa.Column("value", sa.JSON, nullable=True),
    sa.Column("message", sa.Text, nullable=False, server_default=""),
    sa.Column("who", sa.String(200), nullable=False, server_default=""),
    sa.Column("note", sa.Text, nullable=False, server_default=""),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("alarm_class", sa.String(64), nullable=False, server_default=""),
    # as published (AlarmEvent); null in rows written before schema 0006
    sa.Column("shelved", sa.Boolean, nullable=True),
    sa.Column("flap_count", sa.Integer, nullable=True),
    sa.Index(None, "alarm_id", "ts"),
    sa.Index(None, "site_id", "ts"),
)

# Load forecasts (openbms.service.forecasts): one row per meter, issue time and hour ahead; ``actual_kwh``
# is filled in when the hour's energy is known, and the scores are computed from the rows that have it.
forecasts = sa.Table(
    "forecasts", metadata,
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("meter", sa.String(200), primary_key=True),
    sa.Column("issued_at", Time, primary_key=True),
    sa.Column("start", Time, primary_key=True),
    sa.Column("horizon", sa.Integer, nullable=False),
    sa.Column("kwh", sa.Float, nullable=False),
    sa.Column("temperature", sa.Float, nullable=True),
    sa.Column("actual_kwh", sa.Float, nullable=True),
    sa.Index(None, "site_id", "meter", "start"),
)

runtime_state = sa.Table(
    "runtime_state", metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
)


# ---------------------------------------------------------------------- API users and tokens

users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),  # stored lower-case
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("locked_until", Time, nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Column("password_changed_at", Time, nullable=False),
    sa.Column("last_login_at", Time, nullable=True),
)

# A user's role on one site; site_id "*" grants the role on every site.
site_grants = sa.Table(
    "site_grants", metadata,
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("site_id", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
)

# Failed logins of known accounts, for the lockout window.
login_failures = sa.Table(
    "login_failures", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("ts", Time, nullable=False),
    sa.Column("remote_addr", sa.String(64), nullable=True),
    sa.Index(None, "user_id", "ts"),
)

# Opaque refresh tokens, stored as SHA-256; one family per login, rotated on every refresh.
refresh_tokens = sa.Table(
    "refresh_tokens", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("family_id", sa.String(36), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
    sa.Column("used_at", Time, nullable=True),
    sa.Column("revoked_at", Time, nullable=True),
    sa.Column("remote_addr", sa.String(64), nullable=True),
    sa.Index(None, "family_id"),
    sa.Index(None, "user_id"),
)

# Long-lived tokens for machines, stored as SHA-256; ``role`` narrows the user's roles.
api_tokens = sa.Table(
    "api_tokens", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("role", sa.String(32), nullable=True),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=True),
    sa.Column("last_used_at", Time, nullable=True),
    sa.Column("revoked_at", Time, nullable=True),
    sa.Index(None, "user_id"),
)
