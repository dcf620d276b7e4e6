"""Sign-in, sessions, CSRF, throttling and roles, through the real app over a real database."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from pipeline.config import load_settings
from pipeline.store.types import utcnow
from pipeline.web.app import create_app
from pipeline.web.auth import (
    ACCOUNT_LIMIT,
    ADDRESS_LIMIT,
    LOCKOUT,
    SignInRefused,
    add_user,
    sign_in,
)

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _client(app) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1:8000")


def _login(client: TestClient, email: str, password: str, next_path: str = "/"):
    token = TOKEN.search(client.get("/login").text)[1]
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token, "next": next_path},
        follow_redirects=False,
    )


def test_sign_in_sets_a_signed_httponly_lax_cookie(web_app, staff_password):
    add_user(web_app.state.engine, "anna@clinic.example", "marketing", staff_password)
    with _client(web_app) as client:
        response = _login(client, "Anna@Clinic.example", staff_password, "/users")
        assert response.status_code == 303
        assert response.headers["location"] == "/users"
        cookie = response.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
        assert client.get("/account/password").status_code == 200


def test_cookie_is_secure_when_the_public_address_is_https(
    workspace_db, monkeypatch, staff_password
):
    monkeypatch.setenv("CLINICMAIL_PUBLIC_URL", "https://clinic.example")
    app = create_app(load_settings(workspace_db))
    add_user(app.state.engine, "anna@clinic.example", "marketing", staff_password)
    with TestClient(app, base_url="https://clinic.example") as client:
        response = _login(client, "anna@clinic.example", staff_password)
        assert "secure" in response.headers["set-cookie"].lower()
    app.state.engine.dispose()


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(web_app, staff_password):
    add_user(web_app.state.engine, "anna@clinic.example", "marketing", staff_password)
    with _client(web_app) as client:
        wrong_password = _login(client, "anna@clinic.example", "not the password")
        unknown_user = _login(client, "nobody@clinic.example", staff_password)
    assert wrong_password.status_code == unknown_user.status_code == 401
    assert "do not match an account" in wrong_password.text
    assert "do not match an account" in unknown_user.text


def test_an_account_locks_after_repeated_failures_and_stays_locked_after_a_restart(
    workspace_db, staff_password
):
    settings = load_settings(workspace_db)
    app = create_app(settings)
    engine = app.state.engine
    add_user(engine, "anna@clinic.example", "marketing", staff_password)
    now = utcnow()
    for attempt in range(ACCOUNT_LIMIT):
        with pytest.raises(SignInRefused) as refused:
            sign_in(engine, "anna@clinic.example", "guess", f"10.0.0.{attempt}", now)
    assert "Too many failed sign-ins" in str(refused.value)
    engine.dispose()
    restarted = create_app(settings)
    with pytest.raises(SignInRefused, match="Too many"):
        sign_in(restarted.state.engine, "anna@clinic.example", staff_password, "10.9.9.9", now)
    later = now + LOCKOUT + timedelta(seconds=1)
    user = sign_in(restarted.state.engine, "anna@clinic.example", staff_password, "10.9.9.9", later)
    assert user.email == "anna@clinic.example"
    restarted.state.engine.dispose()


def test_one_address_guessing_many_accounts_is_locked_out(web_app, staff_password):
    engine = web_app.state.engine
    add_user(engine, "anna@clinic.example", "marketing", staff_password)
    now = utcnow()
    for number in range(ADDRESS_LIMIT):
        with pytest.raises(SignInRefused):
            sign_in(engine, f"guess{number}@clinic.example", "guess", "192.0.2.7", now)
    with pytest.raises(SignInRefused, match="Too many"):
        sign_in(engine, "anna@clinic.example", staff_password, "192.0.2.7", now)
    assert sign_in(engine, "anna@clinic.example", staff_password, "192.0.2.8", now)


def test_failures_outside_the_window_do_not_add_up(web_app, staff_password):
    engine = web_app.state.engine
    add_user(engine, "anna@clinic.example", "marketing", staff_password)
    start = utcnow()
    for attempt in range(ACCOUNT_LIMIT * 2):
        moment = start + timedelta(minutes=20 * attempt)
        with pytest.raises(SignInRefused, match="do not match"):
            sign_in(engine, "anna@clinic.example", "guess", None, moment)


def test_a_form_without_the_session_token_is_refused(signed_in):
    response = signed_in.post("/users", data={"email": "x@clinic.example", "role": "marketing"})
    assert response.status_code == 403
    assert "reload the page" in response.text
    response = signed_in.post(
        "/users", data={"email": "x@clinic.example", "role": "marketing", "csrf_token": "forged"}
    )
    assert response.status_code == 403


def test_sign_in_form_needs_its_token_too(web_app, staff_password):
    add_user(web_app.state.engine, "anna@clinic.example", "marketing", staff_password)
    with _client(web_app) as client:
        response = client.post(
            "/login", data={"email": "anna@clinic.example", "password": staff_password}
        )
    assert response.status_code == 403


def test_sign_out_ends_the_session(signed_in):
    assert signed_in.get("/users").status_code == 200
    response = signed_in.post(
        "/logout", data={"csrf_token": signed_in.csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    after = signed_in.get("/users", follow_redirects=False)
    assert after.status_code == 303
    assert after.headers["location"].startswith("/login?next=")


def test_marketing_staff_cannot_manage_users(web_app, staff_password):
    add_user(web_app.state.engine, "anna@clinic.example", "marketing", staff_password)
    with _client(web_app) as client:
        _login(client, "anna@clinic.example", staff_password)
        assert client.get("/users").status_code == 403
        assert (
            "Users"
            not in re.findall(
                r'<nav class="site-nav".*?</nav>', client.get("/account/password").text, re.S
            )[0]
        )
        token = TOKEN.search(client.get("/account/password").text)[1]
        response = client.post(
            "/users", data={"email": "x@clinic.example", "role": "owner", "csrf_token": token}
        )
        assert response.status_code == 403


def test_owner_adds_a_user_who_must_change_the_one_time_password(signed_in, web_app):
    page = signed_in.post(
        "/users",
        data={"email": "new@clinic.example", "role": "marketing", "csrf_token": signed_in.csrf},
    )
    assert page.status_code == 200
    one_time = re.search(r"<code>([^<]+)</code>", page.text)[1]
    with _client(web_app) as client:
        response = _login(client, "new@clinic.example", one_time, "/content")
        assert response.headers["location"] == "/account/password"
        assert client.get("/users", follow_redirects=False).headers["location"] == (
            "/account/password"
        )
        token = TOKEN.search(client.get("/account/password").text)[1]
        changed = client.post(
            "/account/password",
            data={
                "current": one_time,
                "new": "a brand new password",
                "repeat": "a brand new password",
                "csrf_token": token,
            },
            follow_redirects=False,
        )
        assert changed.status_code == 303
        assert client.get("/account/password").status_code == 200


def test_a_new_password_ends_the_other_sessions(signed_in, web_app, staff_password):
    with _client(web_app) as other:
        _login(other, "owner@clinic.example", staff_password)
        assert other.get("/users").status_code == 200
        signed_in.post(
            "/account/password",
            data={
                "current": staff_password,
                "new": "another good password",
                "repeat": "another good password",
                "csrf_token": signed_in.csrf,
            },
        )
        assert signed_in.get("/users").status_code == 200
        assert other.get("/users", follow_redirects=False).status_code == 303


def test_sign_in_never_redirects_to_another_site(web_app, staff_password):
    add_user(web_app.state.engine, "anna@clinic.example", "marketing", staff_password)
    for target in ("//evil.example/", "https://evil.example/", "javascript:alert(1)"):
        with _client(web_app) as client:
            response = _login(client, "anna@clinic.example", staff_password, target)
        assert response.headers["location"] == "/"


def test_owner_cannot_remove_themselves_from_the_users_page(signed_in, web_app):
    with web_app.state.engine.connect() as conn:
        from pipeline.store.users import get_user_by_email

        me = get_user_by_email(conn, "owner@clinic.example")
    response = signed_in.post(
        f"/users/{me.id}/delete", data={"csrf_token": signed_in.csrf, "confirmed": "yes"}
    )
    assert response.status_code == 409


def test_responses_carry_security_headers(web_app):
    with _client(web_app) as client:
        response = client.get("/login")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    assert response.headers["referrer-policy"] == "same-origin"
