"""Server-side sessions: a cookie copied before sign-out, a password change or the user's
removal opens nothing afterwards (finding 1), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from pipeline.store import users as user_store
from pipeline.web.auth import SESSION_COOKIE, add_user, change_password

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _replay(app, cookie: str) -> TestClient:
    """A second browser holding a copy of the cookie."""
    client = TestClient(app, base_url="http://127.0.0.1:8000")
    client.cookies.set(SESSION_COOKIE, cookie)
    return client


def _copy_of_the_cookie(signed_in) -> str:
    cookie = signed_in.cookies.get(SESSION_COOKIE)
    assert cookie
    return cookie


def test_a_cookie_copied_before_sign_out_opens_nothing_after_it(signed_in, web_app):
    copied = _copy_of_the_cookie(signed_in)
    with _replay(web_app, copied) as replay:
        assert replay.get("/users", follow_redirects=False).status_code == 200
        form_token = TOKEN.search(replay.get("/account/password").text)[1]

    signed_in.post("/logout", data={"csrf_token": signed_in.csrf}, follow_redirects=False)

    with _replay(web_app, copied) as replay:
        page = replay.get("/users")
        assert page.url.path == "/login"
        assert "Sign in" in page.text
        minted = replay.post(
            "/users/tokens",
            data={"name": "stolen", "csrf_token": form_token},
            follow_redirects=False,
        )
        assert minted.status_code == 303
        assert minted.headers["location"].startswith("/login")
    with web_app.state.engine.connect() as conn:
        assert user_store.list_api_tokens(conn) == []


def test_a_password_change_from_the_cli_ends_every_session(signed_in, web_app):
    copied = _copy_of_the_cookie(signed_in)
    engine = web_app.state.engine
    with engine.connect() as conn:
        owner = user_store.get_user_by_email(conn, "owner@clinic.example")
    change_password(engine, owner.id, "another good password", one_time=False)
    with _replay(web_app, copied) as replay:
        assert replay.get("/users").url.path == "/login"
    assert signed_in.get("/users").url.path == "/login"


def test_removing_a_user_ends_their_sessions(signed_in, web_app, staff_password):
    engine = web_app.state.engine
    add_user(engine, "anna@clinic.example", "marketing", staff_password)
    with TestClient(web_app, base_url="http://127.0.0.1:8000") as anna:
        token = TOKEN.search(anna.get("/login").text)[1]
        anna.post(
            "/login",
            data={"email": "anna@clinic.example", "password": staff_password, "csrf_token": token},
        )
        assert anna.get("/account/password").status_code == 200
        with engine.begin() as conn:
            user_store.delete_user(
                conn, user_store.get_user_by_email(conn, "anna@clinic.example").id
            )
        # A new account under the same address must not inherit the old sessions either.
        add_user(engine, "anna@clinic.example", "marketing", staff_password)
        assert anna.get("/account/password").url.path == "/login"


def test_the_cookie_carries_a_session_id_not_the_user(signed_in, web_app):
    """What the cookie holds is signed and names no user: forging a user id is pointless."""
    import base64
    import json

    payload = _copy_of_the_cookie(signed_in).split(".")[0]
    data = json.loads(base64.b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(data) == {"session", "csrf"}
