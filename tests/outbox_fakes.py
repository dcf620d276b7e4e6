"""Test seams for the outbox: a delivery Backend that records what it was handed and can be told
to fail, and set-based builders for contacts and a started campaign."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from pipeline.config import Settings, load_settings
from pipeline.delivery.backend import SendsClaimedRowsHere
from pipeline.errors import DeliveryError
from pipeline.models import Event, Outcome, Recipient, RenderedVariant, SendResult, group_results
from pipeline.store import utcnow
from pipeline.store.events import record_events
from pipeline.store.tables import campaigns, contacts, sends, variants

TOKENS = ("first_name", "unsubscribe_url", "preferences_url", "view_url")


@dataclass(frozen=True)
class Failure:
    """What the next call does instead of accepting: `retry` (429/5xx), `failed` (rejected),
    `unknown` (no answer; `accepted` says whether the provider took it anyway), `raise` (a crash
    while sending) or `refuse` (the backend cannot send at all: DeliveryError)."""

    outcome: str
    accepted: bool = False
    retry_after: float | None = 0.0
    reason: str = "injected"


class RecordingBackend(SendsClaimedRowsHere):
    """A Backend that 'delivers' by recording (send_id, email, segment), one attempt per call."""

    def __init__(
        self,
        on_batch: Callable[[Sequence[Recipient]], None] | None = None,
        on_accepted: Callable[[list[int]], None] | None = None,
    ):
        self.on_accepted = on_accepted
        self.delivered: list[tuple[int, str, str]] = []
        self.calls = 0
        self.closed = False
        self.on_batch = on_batch
        self._failures: deque[Failure] = deque()
        self._lock = threading.Lock()

    def fail_next(self, failure: Failure, times: int = 1) -> None:
        self._failures.extend([failure] * times)

    def send_batch(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> list[SendResult]:
        assert set(TOKENS) <= set(recipients[0].values), "recipient values lack a token"
        with self._lock:
            self.calls += 1
            failure = self._failures.popleft() if self._failures else None
        if self.on_batch is not None:
            self.on_batch(recipients)
        if failure is not None and failure.outcome == "raise":
            raise ConnectionResetError("injected crash while sending")
        if failure is not None and failure.outcome == "refuse":
            raise DeliveryError("SendGrid refused the request (401): injected")
        if failure is None or failure.accepted:
            with self._lock:
                self.delivered += [(r.send_id, r.email, rendered.segment) for r in recipients]
            if self.on_accepted is not None:
                self.on_accepted([r.send_id for r in recipients])
        if failure is None:
            return [SendResult(r.send_id, "sent", provider_message_id="msg-1") for r in recipients]
        return [
            SendResult(
                r.send_id, failure.outcome, reason=failure.reason, retry_after=failure.retry_after
            )
            for r in recipients
        ]

    def send_batch_grouped(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> dict[Outcome, list[int]]:
        return group_results(self.send_batch(rendered, recipients))

    def replica(self) -> Callable[[], RecordingBackend]:
        """A fresh recorder for a sending process (what it records stays in that process)."""
        return RecordingBackend

    def close(self) -> None:
        self.closed = True

    def duplicates(self) -> list[str]:
        counts = Counter(email for _, email, _ in self.delivered)
        return sorted(email for email, count in counts.items() if count > 1)


def add_contacts(
    conn: Connection,
    count: int,
    *,
    tags: Callable[[int], str] = lambda i: ",",
    consent: Callable[[int], str] = lambda i: "subscribed",
    start: int = 0,
) -> None:
    """`count` contacts person{n}@example.com with the given tags (",a,b,") and consent."""
    now = utcnow()
    rows = []
    for n in range(start, start + count):
        email = f"person{n}@example.com"
        rows.append(
            {
                "email": email,
                "email_key": email,
                "email_hash": f"{n:064x}",
                "first_name": f"P{n}",
                "last_name": "",
                "tags": tags(n),
                "attributes": {},
                "consent_status": consent(n),
                "topics": [],
                "created_at": now,
                "updated_at": now,
            }
        )
    conn.execute(insert(contacts), rows)


def add_campaign(conn: Connection, slug: str = "spring", state: str = "sending") -> int:
    now = utcnow()
    return conn.execute(
        insert(campaigns)
        .values(
            slug=slug,
            name=slug.title(),
            origin="file",
            spec={},
            spec_hash="0" * 64,
            state=state,
            created_at=now,
            updated_at=now,
        )
        .returning(campaigns.c.id)
    ).scalar_one()


def add_variant(conn: Connection, campaign_id: int, segment: str, code: str | None = None) -> int:
    placeholders = {name: f"__test_{segment}_{name}__" for name in TOKENS}
    return conn.execute(
        insert(variants)
        .values(
            campaign_id=campaign_id,
            segment=segment,
            segment_code=code or f"s-{segment}",
            subject=f"For {segment}",
            preheader="",
            score=1.0,
            matches={},
            excerpt=[],
            html=f"<p>Hi {placeholders['first_name']}</p>",
            text="Hi",
            tokens={"html": placeholders, "text": {}},
            created_at=utcnow(),
        )
        .returning(variants.c.id)
    ).scalar_one()


def queue_everyone(conn: Connection, campaign_id: int, variant_id: int) -> int:
    """Queue a send for every contact (what materialising does for a one-segment campaign)."""
    now = utcnow()
    ids = conn.execute(select(contacts.c.id).order_by(contacts.c.id)).scalars().all()
    conn.execute(
        insert(sends),
        [
            {
                "campaign_id": campaign_id,
                "contact_id": contact_id,
                "variant_id": variant_id,
                "status": "queued",
                "attempts": 0,
                "queued_at": now,
                "updated_at": now,
            }
            for contact_id in ids
        ],
    )
    return len(ids)


def statuses(conn: Connection, campaign_id: int) -> Counter[str]:
    return Counter(
        conn.execute(select(sends.c.status).where(sends.c.campaign_id == campaign_id)).scalars()
    )


def set_state(conn: Connection, campaign_id: int, state: str) -> None:
    conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(state=state))


def outbox_settings(workspace: Path, **delivery: Any) -> Settings:
    """The workspace's settings with no quiet hours or closures (tests run at any hour) and
    these [delivery] values."""
    settings = load_settings(workspace)
    return settings.model_copy(
        update={
            "delivery": settings.delivery.model_copy(update=delivery),
            "sending": settings.sending.model_copy(update={"quiet_hours": "", "closure_dates": ()}),
        }
    )


def record_processed_events(engine: Engine, settings: Settings, send_ids: Sequence[int]) -> None:
    """What the provider's webhook reports for accepted sends, stored by the real ingestion."""
    now = utcnow()
    batch = [
        Event(sg_event_id=f"processed-{send_id}-{now.timestamp()}", event="processed",
              occurred_at=now, send_id=send_id)
        for send_id in send_ids
    ]  # fmt: skip
    with engine.begin() as conn:
        record_events(conn, batch, zone=settings.clinic.zone,
                      booking_url=settings.clinic.booking_url, received_at=now)  # fmt: skip
