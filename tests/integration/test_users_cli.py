"""`clinicmail users` and its tokens, through click's CliRunner over a real database."""

from __future__ import annotations

import json

from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import load_settings
from pipeline.store import open_engine
from pipeline.store.types import utcnow
from pipeline.store.users import find_user, user_for_token
from pipeline.web.auth import sign_in, token_hash


def _run(workspace, *args, input=None):
    return CliRunner().invoke(main, ["--workspace", str(workspace), *args], input=input)


def _engine(workspace):
    return open_engine(load_settings(workspace).database_url)


def test_add_with_a_one_time_password_that_must_be_changed(workspace_db):
    result = _run(workspace_db, "users", "add", "Anna@Clinic.example", "--role", "marketing")
    assert result.exit_code == 0, result.output
    one_time = result.output.split("one-time password: ")[1].strip()
    engine = _engine(workspace_db)
    user = sign_in(engine, "anna@clinic.example", one_time, None)
    assert user.role == "marketing" and user.must_change_password
    engine.dispose()


def test_add_with_password_from_stdin_and_list_as_json(workspace_db):
    result = _run(
        workspace_db,
        "users",
        "add",
        "boss@clinic.example",
        "--role",
        "owner",
        "--password-stdin",
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    assert "one-time" not in result.output
    listed = json.loads(_run(workspace_db, "users", "list", "--json").output)
    assert listed == [
        {
            "email": "boss@clinic.example",
            "role": "owner",
            "must_change_password": False,
            "last_login_at": None,
        }
    ]


def test_mistakes_are_one_line_errors(workspace_db):
    _run(workspace_db, "users", "add", "anna@clinic.example")
    again = _run(workspace_db, "users", "add", "ANNA@clinic.example")
    assert again.exit_code == 1 and "already exists" in again.output
    short = _run(
        workspace_db, "users", "add", "b@clinic.example", "--password-stdin", input="short\n"
    )
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    role = _run(workspace_db, "users", "add", "c@clinic.example", "--role", "admin")
    assert role.exit_code == 2
    missing = _run(workspace_db, "users", "password", "nobody@clinic.example")
    assert missing.exit_code == 1 and "no user with the address" in missing.output
    assert "Traceback" not in again.output + short.output + missing.output


def test_token_is_printed_once_and_stored_as_a_hash(workspace_db):
    _run(workspace_db, "users", "add", "anna@clinic.example")
    result = _run(workspace_db, "users", "token", "anna@clinic.example", "--name", "reports")
    token = result.output.strip()
    assert result.exit_code == 0 and token.startswith("cm_")
    engine = _engine(workspace_db)
    with engine.begin() as conn:
        assert user_for_token(conn, token_hash(token), utcnow()).email == "anna@clinic.example"
        assert user_for_token(conn, token, utcnow()) is None
    engine.dispose()


def test_the_last_owner_cannot_be_removed(workspace_db):
    _run(workspace_db, "users", "add", "boss@clinic.example", "--role", "owner")
    _run(workspace_db, "users", "add", "anna@clinic.example")
    refused = _run(workspace_db, "users", "remove", "boss@clinic.example")
    assert refused.exit_code == 1 and "only owner" in refused.output
    assert _run(workspace_db, "users", "remove", "anna@clinic.example").exit_code == 0
    engine = _engine(workspace_db)
    with engine.connect() as conn:
        assert find_user(conn, "anna@clinic.example") is None
    engine.dispose()


def test_ensure_owner_makes_one_owner_only_once(workspace_db):
    first = _run(workspace_db, "users", "ensure-owner")
    assert first.exit_code == 0
    assert "first owner: owner@harbourside-clinic.example" in first.output
    assert "one-time password: " in first.output
    second = _run(workspace_db, "users", "ensure-owner")
    assert "1 staff user(s) exist" in second.output and "one-time" not in second.output


def test_password_reset_prints_a_new_one_time_password(workspace_db):
    _run(
        workspace_db,
        "users",
        "add",
        "anna@clinic.example",
        "--password-stdin",
        input="the first password\n",
    )
    result = _run(workspace_db, "users", "password", "anna@clinic.example")
    one_time = result.output.split(": ")[1].strip()
    engine = _engine(workspace_db)
    assert sign_in(engine, "anna@clinic.example", one_time, None).must_change_password
    engine.dispose()
