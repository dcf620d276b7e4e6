"""The sign-in throttle under parallel guesses (finding 2): attempts are claimed atomically
before the password is checked, per account and per client address, and the client address is
the socket's unless `[web] trusted_proxies` names the proxy. SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from pipeline.cli.serve import web_server
from pipeline.config import load_settings
from pipeline.store import open_engine
from pipeline.web import auth
from pipeline.web.auth import ACCOUNT_LIMIT, ADDRESS_LIMIT, SignInRefused, add_user, sign_in
from tests.ports import free_port

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"


@pytest.fixture
def password_checks(monkeypatch) -> list[str]:
    """Every argon2 verification sign-in makes, counted (thread-safe: list.append)."""
    checks: list[str] = []
    real = auth.verify_password

    def counting(password_hash: str, password: str) -> bool:
        checks.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(auth, "verify_password", counting)
    return checks


def _serve(settings):
    """The app under uvicorn exactly as `clinicmail serve` starts it, on a free port."""
    port = free_port()
    server = web_server(settings, None, "127.0.0.1", port)
    server.config.lifespan = "off"
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{port}"


@pytest.fixture
def served(workspace_db):
    settings = load_settings(workspace_db)
    engine = open_engine(settings.database_url)
    add_user(engine, "anna@clinic.example", "marketing", PASSWORD)
    engine.dispose()
    server, thread, base = _serve(settings)
    yield base
    server.should_exit = True
    thread.join(timeout=20)
    server.config.app.state.engine.dispose()


def _guess(base: str, password: str, headers: dict[str, str] | None = None) -> int:
    with httpx.Client(base_url=base, timeout=60) as client:
        token = TOKEN.search(client.get("/login").text)[1]
        return client.post(
            "/login",
            data={"email": "anna@clinic.example", "password": password, "csrf_token": token},
            headers=headers,
        ).status_code


@pytest.mark.timeout(240)
def test_fifty_parallel_guesses_over_http_get_at_most_five_password_checks(served, password_checks):
    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(lambda n: _guess(served, f"guess {n}"), range(50)))
    assert statuses == [401] * 50
    assert len(password_checks) <= ACCOUNT_LIMIT
    # The right password is refused too while the account is locked.
    assert _guess(served, PASSWORD) == 401
    assert len(password_checks) <= ACCOUNT_LIMIT


@pytest.mark.timeout(240)
def test_fifty_parallel_guesses_from_fifty_addresses_get_at_most_five_checks(
    web_app, password_checks
):
    engine = web_app.state.engine
    add_user(engine, "anna@clinic.example", "marketing", PASSWORD)
    start = threading.Barrier(50)

    def guess(number: int) -> str:
        start.wait()
        try:
            sign_in(engine, "anna@clinic.example", f"guess {number}", f"198.51.100.{number}")
        except SignInRefused as refused:
            return str(refused)
        return "signed in"

    with ThreadPoolExecutor(max_workers=50) as pool:
        outcomes = list(pool.map(guess, range(50)))
    assert "signed in" not in outcomes
    assert len(password_checks) <= ACCOUNT_LIMIT
    with pytest.raises(SignInRefused, match="Too many"):
        sign_in(engine, "anna@clinic.example", PASSWORD, "203.0.113.1")


@pytest.mark.timeout(240)
def test_one_address_guessing_many_accounts_in_parallel_gets_at_most_its_limit(
    web_app, password_checks
):
    engine = web_app.state.engine
    start = threading.Barrier(40)

    def guess(number: int) -> None:
        start.wait()
        with pytest.raises(SignInRefused):
            sign_in(engine, f"guess{number}@clinic.example", "guess", "192.0.2.7")

    with ThreadPoolExecutor(max_workers=40) as pool:
        list(pool.map(guess, range(40)))
    assert len(password_checks) <= ADDRESS_LIMIT


@pytest.mark.timeout(120)
def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(served, password_checks):
    """Twenty failures, each claiming another address, still count against the socket's."""
    for number in range(ADDRESS_LIMIT):
        with httpx.Client(base_url=served, timeout=60) as client:
            token = TOKEN.search(client.get("/login").text)[1]
            client.post(
                "/login",
                data={"email": f"guess{number}@x.example", "password": "g", "csrf_token": token},
                headers={"X-Forwarded-For": f"203.0.113.{number}"},
            )
    assert _guess(served, PASSWORD, {"X-Forwarded-For": "203.0.113.200"}) == 401
    assert len(password_checks) == ADDRESS_LIMIT


@pytest.mark.timeout(120)
def test_a_trusted_proxy_supplies_the_client_address(workspace_db, monkeypatch, password_checks):
    config = workspace_db / "clinic.toml"
    config.write_text(
        config.read_text().replace("[web]\n", '[web]\ntrusted_proxies = ["127.0.0.1"]\n')
    )
    settings = load_settings(workspace_db)
    engine = open_engine(settings.database_url)
    add_user(engine, "anna@clinic.example", "marketing", PASSWORD)
    engine.dispose()
    server, thread, base = _serve(settings)
    try:
        for number in range(ADDRESS_LIMIT):
            with httpx.Client(base_url=base, timeout=60) as client:
                token = TOKEN.search(client.get("/login").text)[1]
                client.post(
                    "/login",
                    data={
                        "email": f"guess{number}@x.example",
                        "password": "g",
                        "csrf_token": token,
                    },
                    headers={"X-Forwarded-For": "203.0.113.9"},
                )
        # The locked address is the one the proxy named, not the proxy's own.
        assert _guess(base, PASSWORD, {"X-Forwarded-For": "203.0.113.9"}) == 401
        assert _guess(base, PASSWORD, {"X-Forwarded-For": "203.0.113.10"}) == 303
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        server.config.app.state.engine.dispose()
