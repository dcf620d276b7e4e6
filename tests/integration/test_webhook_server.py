"""End to end over real HTTP: the whole app (create_app) served by uvicorn on 127.0.0.1, called
with httpx: a signed event batch, SendGrid's retry of it, and a one-click unsubscribe."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select

from pipeline.config import load_settings
from pipeline.metrics import campaign_metrics
from pipeline.render.message import recipient_values
from pipeline.store.tables import contacts, events
from pipeline.web.app import create_app
from tests.ports import free_port
from tests.tracking_support import add_campaign, add_contact, add_send, body_of, sg_event


@pytest.fixture
def served(workspace_db, webhook_signer, monkeypatch):
    """The app on a real port; yields (base URL, app)."""
    monkeypatch.setenv("SENDGRID_WEBHOOK_PUBLIC_KEY", webhook_signer.public_key_b64)
    app = create_app(load_settings(workspace_db))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=20)
    app.state.engine.dispose()


def test_signed_batches_over_real_http_are_stored_once(served, webhook_signer):
    base, app = served
    with app.state.engine.begin() as conn:
        scenario = add_campaign(conn)
        sends = [
            add_send(conn, scenario, add_contact(conn, f"c{n}@example.com"), "athletes")
            for n in range(50)
        ]
    batch = [sg_event("delivered", send_id) for send_id in sends] + [
        sg_event("open", send_id) for send_id in sends[:20]
    ]
    body = body_of(batch)
    with httpx.Client(base_url=base) as client:
        first = client.post(
            "/webhooks/sendgrid", content=body, headers=webhook_signer.headers(body)
        )
        retry = client.post(
            "/webhooks/sendgrid", content=body, headers=webhook_signer.headers(body)
        )
        unsigned = client.post("/webhooks/sendgrid", content=body)
    assert (first.status_code, retry.status_code, unsigned.status_code) == (200, 200, 403)
    assert retry.json()["duplicates"] == 70
    with app.state.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 70
        totals = campaign_metrics(conn, "spring-back-care").totals
    assert (totals.delivered, totals.opens) == (50, 20)


def test_one_click_unsubscribe_over_real_http(served):
    base, app = served
    settings = app.state.settings
    with app.state.engine.begin() as conn:
        scenario = add_campaign(conn)
        contact_id = add_contact(conn, "ana@example.com", first_name="Ana")
        send_id = add_send(conn, scenario, contact_id, "athletes")
    url = recipient_values(settings, contact_id, "ana@example.com", "Ana", send_id)[
        "unsubscribe_url"
    ].replace(settings.web.public_url, base)
    with httpx.Client() as client:
        # As a mail provider does it (RFC 8058): a form POST, no cookies, no redirects.
        response = client.post(
            url, content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        page = client.get(url)
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert "already unsubscribed" in page.text
    with app.state.engine.connect() as conn:
        consent = conn.execute(
            select(contacts.c.consent_status).where(contacts.c.id == contact_id)
        ).scalar_one()
    assert consent == "unsubscribed"


def test_the_same_batch_posted_concurrently_counts_once(served, webhook_signer):
    base, app = served
    with app.state.engine.begin() as conn:
        scenario = add_campaign(conn)
        sends = [
            add_send(conn, scenario, add_contact(conn, f"c{n}@example.com"), "desk_workers")
            for n in range(200)
        ]
    batch = [sg_event(kind, send_id) for send_id in sends for kind in ("delivered", "open")]
    body = body_of(batch)

    def post(_) -> int:
        with httpx.Client(base_url=base, timeout=60) as client:
            headers = webhook_signer.headers(body)
            return client.post("/webhooks/sendgrid", content=body, headers=headers).status_code

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(post, range(4))) == [200] * 4
    with app.state.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 400
        totals = campaign_metrics(conn, "spring-back-care").totals
    assert (totals.delivered, totals.opens) == (200, 200)
