"""openbms user add, list and passwd: the first admin without any default password."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from openbms.api.auth.passwords import Passwords
from openbms.cli.main import app
from openbms.db import open_state
from openbms.db.accounts import grants_of, user_row
from openbms.db.schema import audit_log

runner = CliRunner()


def _state(tmp_path) -> sa.Engine:
    return open_state(f"sqlite:///{tmp_path / 'data' / 'state.db'}")


def test_user_add_asks_the_password_twice_and_creates_an_admin_on_every_site(tmp_path):
    r = runner.invoke(
        app,
        ["user", "add", "Boss@Example.com", "--role", "admin", "--site", "*", "--dir", str(tmp_path)],
        input="a long password\na long password\n",
    )
    assert r.exit_code == 0, r.output
    assert "a long password" not in r.output
    engine = _state(tmp_path)
    try:
        with engine.connect() as conn:
            user = user_row(conn, email="boss@example.com")
            assert user is not None and grants_of(conn, user["id"]) == {"*": "admin"}
            assert conn.execute(sa.select(audit_log.c.action)).scalars().all() == ["user.create"]
        assert Passwords().verify(user["password_hash"], "a long password")
    finally:
        engine.dispose()
    listed = runner.invoke(app, ["user", "list", "--dir", str(tmp_path)])
    assert listed.exit_code == 0 and "boss@example.com" in listed.output and "admin on *" in listed.output


def test_user_add_refuses_a_short_password_a_mismatch_a_bad_role_and_a_duplicate(tmp_path):
    d = ["--dir", str(tmp_path)]
    short = runner.invoke(app, ["user", "add", "a@example.com", *d], input="short\nshort\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    mismatch = runner.invoke(
        app, ["user", "add", "a@example.com", *d], input="a long password\nanother one!\n"
    )
    assert mismatch.exit_code != 0
    role = runner.invoke(app, ["user", "add", "a@example.com", "--role", "root", *d])
    assert role.exit_code == 1 and "unknown role" in role.output
    ok = runner.invoke(
        app,
        ["user", "add", "a@example.com", "--role", "viewer", "--site", "hq", "--site", "lab", *d],
        input="a long password\na long password\n",
    )
    assert ok.exit_code == 0, ok.output
    dup = runner.invoke(app, ["user", "add", "a@example.com", *d], input="a long password\na long password\n")
    assert dup.exit_code == 1 and "already exists" in dup.output
    engine = _state(tmp_path)
    try:
        with engine.connect() as conn:
            user = user_row(conn, email="a@example.com")
            assert user is not None and grants_of(conn, user["id"]) == {"hq": "viewer", "lab": "viewer"}
    finally:
        engine.dispose()


def test_user_passwd_sets_a_new_password(tmp_path):
    d = ["--dir", str(tmp_path)]
    runner.invoke(app, ["user", "add", "c@example.com", *d], input="first password\nfirst password\n")
    r = runner.invoke(
        app, ["user", "passwd", "c@example.com", *d], input="second password\nsecond password\n"
    )
    assert r.exit_code == 0, r.output
    engine = _state(tmp_path)
    try:
        with engine.connect() as conn:
            user = user_row(conn, email="c@example.com")
        assert user is not None and Passwords().verify(user["password_hash"], "second password")
    finally:
        engine.dispose()
    missing = runner.invoke(app, ["user", "passwd", "nobody@example.com", *d])
    assert missing.exit_code == 1 and "no user" in missing.output
