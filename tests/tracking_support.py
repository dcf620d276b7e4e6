"""Helpers for the tracking and metrics tests: a Signed Event Webhook key pair that signs like
SendGrid, SendGrid-shaped events, and a hand-built campaign with variants, contacts and sends."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Connection, insert

from pipeline.store import utcnow
from pipeline.store.tables import campaigns, contacts, sends, variants
from pipeline.tracking import SIGNATURE_HEADER, TIMESTAMP_HEADER


class WebhookSigner:
    """Signs bodies the way SendGrid does: ECDSA P-256 / SHA-256 over timestamp + body."""

    def __init__(self) -> None:
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        der = self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key_b64 = base64.b64encode(der).decode("ascii")

    def headers(self, body: bytes, timestamp: int | None = None) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = self.private_key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {
            SIGNATURE_HEADER: base64.b64encode(signature).decode("ascii"),
            TIMESTAMP_HEADER: stamp,
            "Content-Type": "application/json",
        }


def sg_event(
    event: str,
    send_id: int | None,
    *,
    event_id: str | None = None,
    at: datetime | None = None,
    email: str = "client@example.com",
    **fields: Any,
) -> dict[str, Any]:
    """One event as SendGrid posts it, custom_args flattened in."""
    moment = at or utcnow()
    item: dict[str, Any] = {
        "email": email,
        "timestamp": int(moment.timestamp()),
        "event": event,
        "sg_event_id": event_id
        or hashlib.sha1(f"{event}{send_id}{moment}{fields}".encode()).hexdigest(),
        "sg_message_id": "msg.filter0001",
        **fields,
    }
    if send_id is not None:
        item["send_id"] = str(send_id)
        item["campaign"] = "spring-back-care"
    return item


def body_of(items: list[dict[str, Any]]) -> bytes:
    return json.dumps(items).encode("utf-8")


@dataclass
class Scenario:
    """A started campaign: two variants (athletes, desk_workers), contacts and their sends."""

    campaign_id: int
    variant_ids: dict[str, int]
    contact_ids: dict[str, int] = field(default_factory=dict)
    send_ids: dict[str, int] = field(default_factory=dict)


def add_contact(conn: Connection, email: str, first_name: str = "Sam", **values: Any) -> int:
    now = utcnow()
    key = email.strip().lower()
    row = {
        "email": email,
        "email_key": key,
        "email_hash": hashlib.sha256(key.encode()).hexdigest(),
        "first_name": first_name,
        "last_name": "",
        "tags": ",",
        "attributes": {},
        "consent_status": "subscribed",
        "consent_source": "test",
        "consent_at": now,
        "topics": [],
        "paused_until": None,
        "created_at": now,
        "updated_at": now,
        **values,
    }
    return conn.execute(insert(contacts).values(row).returning(contacts.c.id)).scalar_one()


def add_campaign(
    conn: Connection,
    slug: str = "spring-back-care",
    scheduled_for: datetime | None = None,
    started_at: datetime | None = None,
) -> Scenario:
    now = utcnow()
    campaign_id = conn.execute(
        insert(campaigns)
        .values(
            slug=slug,
            name="Spring back care",
            origin="file",
            spec={},
            spec_hash="0" * 64,
            state="sending",
            scheduled_for=scheduled_for,
            started_at=started_at or now,
            created_at=now,
            updated_at=now,
        )
        .returning(campaigns.c.id)
    ).scalar_one()
    variant_ids = {}
    for segment, code in (("athletes", "s1a7"), ("desk_workers", "s3q8")):
        values: dict[str, Any] = {
            "campaign_id": campaign_id,
            "segment": segment,
            "segment_code": code,
            "subject": f"Spring care for {segment}",
            "preheader": "Stretch well",
            "score": 1.0,
            "matches": {},
            "excerpt": [],
            "html": "<html><body><p>Hello FIRSTNAME-TOKEN, read on.</p>"
            '<a href="UNSUB-TOKEN">Unsubscribe</a></body></html>',
            "text": "Hello FIRSTNAME-TOKEN",
            "created_at": now,
        }
        if "tokens" in variants.c:
            values["tokens"] = {
                "html": {"first_name": "FIRSTNAME-TOKEN", "unsubscribe_url": "UNSUB-TOKEN"},
                "text": {"first_name": "FIRSTNAME-TOKEN"},
            }
        variant_ids[segment] = conn.execute(
            insert(variants).values(values).returning(variants.c.id)
        ).scalar_one()
    return Scenario(campaign_id, variant_ids)


def add_send(
    conn: Connection,
    scenario: Scenario,
    contact_id: int,
    segment: str,
    status: str = "sent",
    **values: Any,
) -> int:
    now = utcnow()
    row = {
        "campaign_id": scenario.campaign_id,
        "contact_id": contact_id,
        "variant_id": scenario.variant_ids[segment],
        "status": status,
        "attempts": 1 if status != "queued" else 0,
        "queued_at": now,
        "sent_at": now if status not in ("queued", "skipped") else None,
        "updated_at": now,
        **values,
    }
    return conn.execute(insert(sends).values(row).returning(sends.c.id)).scalar_one()
