"""What the API asks of the state database without writing SQL: ping, accounts, roles, audit pages."""

from __future__ import annotations

import pytest

from openbms.api.auth.passwords import Passwords
from openbms.api.auth.roles import ROLE_PERMISSIONS
from openbms.db import audit_entries, migrate, open_state, ping, record_audit
from openbms.db.accounts import (
    ROLES,
    AccountError,
    api_token_holder,
    create_api_token,
    create_user,
    ensure_admin,
    find_user,
    session_holder,
    start_session,
    update_user,
    user_with_grants,
)


@pytest.fixture
def engine(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.db'}"
    migrate(url)
    engine = open_state(url)
    yield engine
    engine.dispose()


def test_the_permission_table_gives_permissions_to_exactly_the_stored_roles_in_order():
    assert tuple(ROLE_PERMISSIONS) == ROLES


def test_ping_tells_a_database_that_answers_from_one_that_does_not(engine, tmp_path):
    assert ping(engine) is True
    gone = open_state(f"sqlite:///{tmp_path / 'no such folder' / 'state.db'}")
    try:
        assert ping(gone) is False
    finally:
        gone.dispose()


def test_holders_are_enabled_users_with_live_credentials(engine):
    uid = create_user(engine, "Ops@Example.com", "hash", grants={"hq": "operator"}, now=1.0)["id"]
    token, row = create_api_token(engine, uid, "ci", now=1.0)
    _refresh, family = start_session(engine, uid, now=1.0, ttl=60.0)
    assert find_user(engine, email="ops@example.com")["id"] == uid
    assert user_with_grants(engine, uid)[1] == {"hq": "operator"}
    by_token = api_token_holder(engine, token, now=2.0)
    assert (by_token.user["id"], by_token.grants) == (uid, {"hq": "operator"})
    assert by_token.token["id"] == row["id"]
    assert api_token_holder(engine, token + "x", now=2.0) is None
    assert session_holder(engine, uid, family).grants == {"hq": "operator"}
    assert session_holder(engine, uid, "another session") is None
    update_user(engine, uid, disabled=True, now=3.0)
    assert api_token_holder(engine, token, now=4.0) is None
    assert session_holder(engine, uid, None) is None
    assert user_with_grants(engine, "nobody") is None


def test_ensure_admin_hashes_with_the_hasher_it_is_given(engine):
    uid, created = ensure_admin(engine, "root@example.com", "a long password", passwords=Passwords(), now=1.0)
    assert created and user_with_grants(engine, uid)[1] == {"*": "admin"}
    with pytest.raises(AccountError, match="at least 10 characters"):
        ensure_admin(engine, "root@example.com", "short", passwords=Passwords())


def test_audit_entries_filter_by_an_action_prefix_taken_literally(engine):
    for action in ("user.create", "user_x.create", "auth.login", "user.disable"):
        record_audit(engine, "admin@example.com", action, now=1.0)
    assert [e["action"] for e in audit_entries(engine, action="user.*")] == ["user.disable", "user.create"]
    assert [e["action"] for e in audit_entries(engine, action="user_*")] == ["user_x.create"]
    newest = audit_entries(engine, limit=2)
    assert [e["action"] for e in audit_entries(engine, before_id=newest[-1]["id"])] == \
        ["user_x.create", "user.create"]
