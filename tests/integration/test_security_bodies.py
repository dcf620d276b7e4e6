"""Every request body is bounded as it streams in (finding 3): a chunked upload without
Content-Length is cut off at its route's limit with 413 and nothing of it is acted on."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from pipeline.config import load_settings
from pipeline.render.message import recipient_values
from pipeline.store.tables import contacts
from pipeline.web.app import create_app
from pipeline.web.limits import DEFAULT_BODY_LIMIT, body_limit
from tests.ports import free_port
from tests.tracking_support import add_campaign, add_contact, add_send

MAILBOX = "unsubscribe@mail.harbourside-clinic.example"
BOUNDARY = "clinicmail-test-boundary"
INBOUND_LIMIT = body_limit("/webhooks/inbound")


@pytest.fixture
def app(workspace_db):
    app = create_app(load_settings(workspace_db))
    yield app
    app.state.engine.dispose()


@pytest.fixture
def ana(app) -> tuple[int, str]:
    """Ana's contact id and her unsubscribe token."""
    with app.state.engine.begin() as conn:
        scenario = add_campaign(conn)
        contact = add_contact(conn, "ana.lopez@example.com", first_name="Ana")
        send = add_send(conn, scenario, contact, "athletes")
    values = recipient_values(app.state.settings, contact, "ana.lopez@example.com", "Ana", send)
    return contact, values["unsubscribe_token"]


def _consent(app, contact_id: int) -> str:
    with app.state.engine.connect() as conn:
        return conn.execute(
            select(contacts.c.consent_status).where(contacts.c.id == contact_id)
        ).scalar_one()


def _inbound_form(token: str, padding: int, chunk: int = 64 * 1024):
    """A multipart Inbound Parse post unsubscribing Ana, then `padding` bytes of attachment,
    as a stream of chunks (no Content-Length)."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="to"\r\n\r\n{MAILBOX}\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="subject"\r\n\r\n'
        f"unsubscribe-{token}\r\n"
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="attachment1"; '
        f'filename="scan.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()

    def chunks():
        yield head
        for _ in range(padding // chunk):
            yield b"x" * chunk
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    return chunks()


HEADERS = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


@pytest.mark.timeout(60)
def test_a_chunked_inbound_post_past_its_limit_is_refused_while_reading(app, ana):
    contact, token = ana
    chunks = _inbound_form(token, 60 * 1024 * 1024)
    with TestClient(app) as client:
        response = client.post("/webhooks/inbound", content=chunks, headers=HEADERS)
    assert response.status_code == 413
    assert _consent(app, contact) == "subscribed"


def test_a_declared_length_past_the_limit_is_refused_before_reading(app, ana):
    contact, token = ana
    chunks = _inbound_form(token, INBOUND_LIMIT + 1024)
    body = b"".join(chunks)
    with TestClient(app) as client:
        response = client.post("/webhooks/inbound", content=body, headers=HEADERS)
    assert response.status_code == 413
    assert _consent(app, contact) == "subscribed"


def test_an_inbound_post_under_the_limit_still_unsubscribes(app, ana):
    contact, token = ana
    chunks = _inbound_form(token, 256 * 1024)
    with TestClient(app) as client:
        response = client.post("/webhooks/inbound", content=chunks, headers=HEADERS)
    assert response.json() == {"unsubscribed": True}
    assert _consent(app, contact) == "unsubscribed"


def test_every_other_route_has_the_default_limit(app, ana):
    contact, token = ana

    def chunks():
        for _ in range(DEFAULT_BODY_LIMIT // 65536 + 2):
            yield b"x" * 65536

    with TestClient(app) as client:
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        for path in ("/login", f"/u/{token}", "/account/password"):
            assert client.post(path, content=chunks(), headers=form).status_code == 413, path
        api = {"Content-Type": "application/json", "Authorization": "Bearer cm_x"}
        assert client.post("/api/campaigns", content=chunks(), headers=api).status_code == 413
    assert _consent(app, contact) == "subscribed"


@pytest.mark.timeout(120)
def test_sixty_megabytes_chunked_over_real_http_get_413(app, ana):
    import uvicorn

    contact, token = ana
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.02)
    try:
        chunks = _inbound_form(token, 60 * 1024 * 1024)
        with httpx.Client(timeout=60) as client:
            response = client.post(
                f"http://127.0.0.1:{port}/webhooks/inbound", content=chunks, headers=HEADERS
            )
        assert response.status_code == 413
        # The server stopped reading at the limit: what the client still sent went unread.
        assert _consent(app, contact) == "subscribed"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
