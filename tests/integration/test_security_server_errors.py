"""Inputs that gave server errors (finding 7) now get a 4xx or are skipped: odd upload names,
a signed batch nested 5,000 deep, and items of a signed batch that cannot be used (an
overflowing send_id, an unknown event) while the rest of the batch is stored once."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from pipeline.store.tables import contacts, events, sends
from tests.tracking_support import add_campaign, add_contact, add_send, body_of, sg_event

URL = "/webhooks/sendgrid"


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.mark.parametrize("name", [".", "..", "x" * 296 + ".csv", "../..", "C:\\Users\\.."])
def test_an_upload_name_that_cannot_be_a_file_is_refused(signed_in, web_app, name):
    response = signed_in.post(
        "/contacts/import",
        data={"csrf_token": signed_in.csrf},
        files={"file": (name, b"Email\nann@example.org\n", "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 422
    assert "name" in response.text
    assert _count(web_app.state.engine, contacts) == 0


def test_a_windows_path_as_upload_name_imports_under_its_last_part(signed_in, web_app):
    response = signed_in.post(
        "/contacts/import",
        data={"csrf_token": signed_in.csrf},
        files={"file": ("C:\\Users\\desk\\clients.csv", b"Email\nann@example.org\n", "text/csv")},
    )
    assert response.status_code == 200
    assert "clients.csv" in response.text
    assert _count(web_app.state.engine, contacts) == 1


@pytest.fixture
def three_sends(tracking_app) -> list[int]:
    with tracking_app.state.engine.begin() as conn:
        scenario = add_campaign(conn)
        return [
            add_send(conn, scenario, add_contact(conn, f"{name}@example.com"), "athletes")
            for name in ("ana", "ben", "cat")
        ]


@pytest.mark.timeout(30)
def test_a_signed_batch_nested_5000_deep_is_a_400(tracking_client, tracking_app, webhook_signer):
    body = b"[" * 5000 + b"]" * 5000
    response = tracking_client.post(URL, content=body, headers=webhook_signer.headers(body))
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]
    assert _count(tracking_app.state.engine, events) == 0


def test_unusable_items_are_skipped_and_the_rest_stored_once(
    tracking_client, tracking_app, webhook_signer, three_sends, caplog
):
    overflowing = {**sg_event("delivered", None), "send_id": "99999999999999999999999999"}
    huge_int = {**sg_event("open", None), "send_id": 2**70}
    unknown = sg_event("exploded", three_sends[0])
    deep = sg_event("click", three_sends[0], note=[[[[[[[[[["x"]]]]]]]]]])
    good = [sg_event("delivered", send_id) for send_id in three_sends]
    body = body_of([overflowing, good[0], huge_int, good[1], unknown, deep, good[2]])
    with caplog.at_level(logging.WARNING, logger="pipeline.web.webhooks"):
        first = tracking_client.post(URL, content=body, headers=webhook_signer.headers(body))
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 7, "stored": 3, "duplicates": 0, "ignored": 4}
    assert "4 item(s) skipped" in caplog.text
    assert "'send_id' 99999999999999999999999999 is out of range" in caplog.text
    retry = tracking_client.post(URL, content=body, headers=webhook_signer.headers(body))
    assert retry.json() == {"received": 7, "stored": 0, "duplicates": 3, "ignored": 4}
    engine = tracking_app.state.engine
    with engine.connect() as conn:
        stored = conn.execute(select(events.c.event, events.c.send_id)).all()
        statuses = conn.execute(select(sends.c.status)).scalars().all()
    assert sorted(stored) == sorted(("delivered", send_id) for send_id in three_sends)
    assert statuses == ["delivered"] * 3
