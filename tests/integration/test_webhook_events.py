"""POST /webhooks/sendgrid over real HTTP (ASGI) on SQLite and PostgreSQL: signatures, limits,
deduplication, send statuses and suppressions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy import func, select

from pipeline.config import LOCAL_PUBLIC_KEY_FILE
from pipeline.store.tables import contacts, events, sends, suppressions
from pipeline.tracking import SIGNATURE_HEADER, TIMESTAMP_HEADER
from pipeline.web.webhooks import MAX_WEBHOOK_BYTES
from tests.tracking_support import add_campaign, add_contact, add_send, body_of, sg_event

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sendgrid"
URL = "/webhooks/sendgrid"


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _nothing_stored(engine) -> bool:
    return _count(engine, events) == 0 and _count(engine, suppressions) == 0


@pytest.fixture
def scenario(tracking_app):
    with tracking_app.state.engine.begin() as conn:
        built = add_campaign(conn)
        for name in ("ana", "ben", "cat", "dan"):
            contact_id = add_contact(conn, f"{name}@example.com", first_name=name.title())
            built.contact_ids[name] = contact_id
            built.send_ids[name] = add_send(conn, built, contact_id, "athletes")
    return built


def test_a_signed_batch_is_stored(tracking_client, tracking_app, webhook_signer, scenario):
    body = body_of([sg_event("delivered", scenario.send_ids["ana"], email="ana@example.com")])
    response = tracking_client.post(URL, content=body, headers=webhook_signer.headers(body))
    assert response.status_code == 200, response.text
    assert response.json() == {"received": 1, "stored": 1, "duplicates": 0, "ignored": 0}
    with tracking_app.state.engine.connect() as conn:
        row = conn.execute(select(events)).one()
        status = conn.execute(
            select(sends.c.status).where(sends.c.id == scenario.send_ids["ana"])
        ).scalar_one()
    assert (row.event, row.send_id, row.campaign_id) == (
        "delivered",
        scenario.send_ids["ana"],
        scenario.campaign_id,
    )
    assert status == "delivered"


def test_missing_signature_is_refused(tracking_client, tracking_app, scenario):
    body = body_of([sg_event("delivered", scenario.send_ids["ana"])])
    response = tracking_client.post(URL, content=body)
    assert response.status_code == 403
    assert _nothing_stored(tracking_app.state.engine)


def test_a_signature_over_another_body_is_refused(
    tracking_client, tracking_app, webhook_signer, scenario
):
    signed = body_of([sg_event("delivered", scenario.send_ids["ana"])])
    forged = body_of([sg_event("bounce", scenario.send_ids["ana"], email="ana@example.com")])
    response = tracking_client.post(URL, content=forged, headers=webhook_signer.headers(signed))
    assert response.status_code == 403
    assert _nothing_stored(tracking_app.state.engine)


def test_a_garbled_signature_is_refused(tracking_client, tracking_app, webhook_signer, scenario):
    body = body_of([sg_event("delivered", scenario.send_ids["ana"])])
    headers = webhook_signer.headers(body) | {SIGNATURE_HEADER: "not base64 at all!"}
    assert tracking_client.post(URL, content=body, headers=headers).status_code == 403
    assert _nothing_stored(tracking_app.state.engine)


def test_a_stale_timestamp_is_refused(tracking_client, tracking_app, webhook_signer, scenario):
    body = body_of([sg_event("delivered", scenario.send_ids["ana"])])
    an_hour_ago = int(datetime.now(UTC).timestamp()) - 3600
    response = tracking_client.post(
        URL, content=body, headers=webhook_signer.headers(body, timestamp=an_hour_ago)
    )
    assert response.status_code == 403
    assert _nothing_stored(tracking_app.state.engine)


def test_an_oversized_body_is_refused(tracking_client, tracking_app, webhook_signer, scenario):
    padding = "x" * (MAX_WEBHOOK_BYTES + 1)
    body = body_of([sg_event("delivered", scenario.send_ids["ana"], note=padding)])
    response = tracking_client.post(URL, content=body, headers=webhook_signer.headers(body))
    assert response.status_code == 413
    assert _nothing_stored(tracking_app.state.engine)


def test_an_oversized_body_without_a_length_is_cut_off_while_reading(
    tracking_client, tracking_app, webhook_signer, scenario
):
    body = body_of([sg_event("delivered", scenario.send_ids["ana"])]) + b" " * MAX_WEBHOOK_BYTES
    chunks_read = []

    def chunked():
        for start in range(0, len(body), 64 * 1024):
            chunks_read.append(start)
            yield body[start : start + 64 * 1024]

    headers = webhook_signer.headers(body)
    response = tracking_client.post(URL, content=chunked(), headers=headers)
    assert response.status_code == 413
    assert "content-length" not in {key.lower() for key in response.request.headers}
    assert _nothing_stored(tracking_app.state.engine)


def test_malformed_json_is_refused(tracking_client, tracking_app, webhook_signer):
    body = b'[{"event": "delivered", '
    response = tracking_client.post(URL, content=body, headers=webhook_signer.headers(body))
    assert response.status_code == 400
    assert _nothing_stored(tracking_app.state.engine)


def test_a_json_value_that_is_not_a_batch_is_refused(tracking_client, tracking_app, webhook_signer):
    body = b'"delivered"'
    response = tracking_client.post(URL, content=body, headers=webhook_signer.headers(body))
    assert response.status_code == 400
    assert _nothing_stored(tracking_app.state.engine)


def test_a_repeated_batch_is_stored_once(tracking_client, tracking_app, webhook_signer, scenario):
    batch = [
        sg_event("processed", scenario.send_ids["ana"], event_id="e-1"),
        sg_event("delivered", scenario.send_ids["ana"], event_id="e-2"),
        sg_event("open", scenario.send_ids["ana"], event_id="e-3"),
        sg_event("open", scenario.send_ids["ana"], event_id="e-3"),
    ]
    body = body_of(batch)
    first = tracking_client.post(URL, content=body, headers=webhook_signer.headers(body))
    again = tracking_client.post(URL, content=body, headers=webhook_signer.headers(body))
    assert first.json()["stored"] == 3
    assert again.json() == {"received": 4, "stored": 0, "duplicates": 4, "ignored": 0}
    assert _count(tracking_app.state.engine, events) == 3


def test_every_documented_example_is_accepted(tracking_client, tracking_app, webhook_signer):
    examples = json.loads((FIXTURES / "event_examples.json").read_text())
    batches = [
        examples["all_event_types_example_post"],
        list(examples["per_event_examples"].values()),
        examples["v3_custom_args_resulting_event_fields"],
        examples["unique_args_v2_resulting_event"],
        examples["category_as_array_example"],
        examples["processed_with_ip_pool_example"],
        examples["click_full_example"],
        examples["single_send_open_example"],
    ]
    for batch in batches:
        body = json.dumps(batch).encode()
        response = tracking_client.post(URL, content=body, headers=webhook_signer.headers(body))
        assert response.status_code == 200, (batch, response.text)
    # The per-event examples' ids are distinct; "sg_event_id" repeats in the first batch.
    assert _count(tracking_app.state.engine, events) >= len(examples["per_event_examples"]) - 1


def test_the_shared_signed_vector_verifies(tracking_client, tracking_app, monkeypatch):
    vector = json.loads((FIXTURES / "event_webhook_signature_vector.json").read_text())
    valid = vector["valid"]
    monkeypatch.setattr(
        tracking_app.state,
        "settings",
        tracking_app.state.settings.model_copy(
            update={"webhook_public_key": vector["public_key_base64_der_spki"]}
        ),
    )
    headers = {
        SIGNATURE_HEADER: valid["signature"],
        TIMESTAMP_HEADER: valid["timestamp"],
        "Content-Type": "application/json",
    }
    body = valid["payload"].encode()
    with time_machine.travel(datetime.fromtimestamp(int(valid["timestamp"]) + 5, UTC)):
        response = tracking_client.post(URL, content=body, headers=headers)
        tampered = tracking_client.post(
            URL, content=body.replace(b"dropped", b"dropper"), headers=headers
        )
    assert response.status_code == 200, response.text
    assert tampered.status_code == 403
    with tracking_app.state.engine.connect() as conn:
        assert conn.execute(select(events.c.event)).scalars().all() == ["dropped"]
        # "Bounced Address": SendGrid already knows the address bounces.
        assert conn.execute(select(suppressions.c.reason)).scalars().all() == ["bounce"]


def test_events_move_send_statuses(tracking_client, tracking_app, webhook_signer, scenario):
    ids = scenario.send_ids
    batch = [
        sg_event("delivered", ids["ana"]),
        sg_event("delivered", ids["ben"]),
        sg_event(
            "bounce", ids["ben"], email="ben@example.com", type="bounce", reason="550 no such user"
        ),
        sg_event("dropped", ids["cat"], email="cat@example.com", reason="Invalid"),
    ]
    body = body_of(batch)
    assert tracking_client.post(URL, content=body, headers=webhook_signer.headers(body)).is_success
    with tracking_app.state.engine.connect() as conn:
        statuses = dict(conn.execute(select(sends.c.id, sends.c.status)).all())
    assert statuses[ids["ana"]] == "delivered"
    assert statuses[ids["ben"]] == "bounced"
    assert statuses[ids["cat"]] == "dropped"
    assert statuses[ids["dan"]] == "sent"


def test_events_never_touch_rows_the_outbox_still_holds(
    tracking_client, tracking_app, webhook_signer, scenario
):
    with tracking_app.state.engine.begin() as conn:
        contact_id = add_contact(conn, "eve@example.com")
        in_flight = add_send(conn, scenario, contact_id, "desk_workers", status="sending")
    body = body_of([sg_event("delivered", in_flight)])
    assert tracking_client.post(URL, content=body, headers=webhook_signer.headers(body)).is_success
    with tracking_app.state.engine.connect() as conn:
        status = conn.execute(select(sends.c.status).where(sends.c.id == in_flight)).scalar_one()
    assert status == "sending"


def _suppression_reasons(engine) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(contacts.c.email, suppressions.c.reason).join(
                contacts, contacts.c.email_hash == suppressions.c.email_hash
            )
        ).all()
    return {email: reason for email, reason in rows}


def test_bad_addresses_complaints_and_unsubscribes_are_suppressed(
    tracking_client, tracking_app, webhook_signer, scenario
):
    ids = scenario.send_ids
    batch = [
        sg_event("bounce", ids["ana"], email="ana@example.com", type="bounce", reason="550 5.1.1"),
        sg_event("dropped", ids["ben"], email="ben@example.com", reason="Invalid"),
        sg_event("spamreport", ids["cat"], email="cat@example.com"),
        sg_event("unsubscribe", ids["dan"], email="dan@example.com"),
    ]
    body = body_of(batch)
    assert tracking_client.post(URL, content=body, headers=webhook_signer.headers(body)).is_success
    assert _suppression_reasons(tracking_app.state.engine) == {
        "ana@example.com": "bounce",
        "ben@example.com": "invalid",
        "cat@example.com": "complaint",
        "dan@example.com": "unsubscribe",
    }
    with tracking_app.state.engine.connect() as conn:
        consent = conn.execute(
            select(contacts.c.consent_status).where(contacts.c.id == scenario.contact_ids["dan"])
        ).scalar_one()
    assert consent == "unsubscribed"


def test_a_blocked_message_does_not_suppress_the_address(
    tracking_client, tracking_app, webhook_signer, scenario
):
    blocked = sg_event(
        "bounce",
        scenario.send_ids["ana"],
        email="ana@example.com",
        type="blocked",
        reason="421 try later",
    )
    body = body_of([blocked])
    assert tracking_client.post(URL, content=body, headers=webhook_signer.headers(body)).is_success
    assert _suppression_reasons(tracking_app.state.engine) == {}


def test_an_unsubscribe_event_skips_the_contacts_queued_sends(
    tracking_client, tracking_app, webhook_signer, scenario
):
    with tracking_app.state.engine.begin() as conn:
        later = add_campaign(conn, slug="summer-legs")
        queued = add_send(conn, later, scenario.contact_ids["ana"], "athletes", status="queued")
        other = add_send(conn, later, scenario.contact_ids["ben"], "athletes", status="queued")
    body = body_of([sg_event("unsubscribe", scenario.send_ids["ana"], email="ana@example.com")])
    assert tracking_client.post(URL, content=body, headers=webhook_signer.headers(body)).is_success
    with tracking_app.state.engine.connect() as conn:
        statuses = dict(conn.execute(select(sends.c.id, sends.c.status)).all())
    assert statuses[queued] == "skipped"
    assert statuses[other] == "queued"


def test_events_for_unknown_sends_are_kept_but_tied_to_nothing(
    tracking_client, tracking_app, webhook_signer, scenario
):
    body = body_of([sg_event("delivered", 999_999), sg_event("open", None)])
    response = tracking_client.post(URL, content=body, headers=webhook_signer.headers(body))
    assert response.json()["stored"] == 2
    with tracking_app.state.engine.connect() as conn:
        assert conn.execute(select(events.c.send_id)).scalars().all() == [None, None]


def test_without_a_configured_key_everything_is_refused(
    tracking_client, tracking_app, webhook_signer, monkeypatch
):
    settings = tracking_app.state.settings.model_copy(update={"webhook_public_key": None})
    monkeypatch.setattr(tracking_app.state, "settings", settings)
    body = body_of([sg_event("delivered", None)])
    response = tracking_client.post(URL, content=body, headers=webhook_signer.headers(body))
    assert response.status_code == 403
    assert _nothing_stored(tracking_app.state.engine)


def test_with_the_local_backend_the_local_servers_key_verifies(
    tracking_client, tracking_app, webhook_signer, monkeypatch
):
    settings = tracking_app.state.settings.model_copy(update={"webhook_public_key": None})
    assert settings.delivery.backend == "local"
    key_file = settings.local_sendgrid_dir / LOCAL_PUBLIC_KEY_FILE
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key_file.write_text(webhook_signer.public_key_b64, encoding="ascii")
    monkeypatch.setattr(tracking_app.state, "settings", settings)
    body = body_of([sg_event("delivered", None)])
    response = tracking_client.post(URL, content=body, headers=webhook_signer.headers(body))
    assert response.status_code == 200
