"""The campaign side of the outbox: the campaign row locked for its start, its state moves
around sending, the rendered variants stored once at start and read back by any worker, and
what is left of its outbox."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, exists, func, insert, select, update

from pipeline.models import RenderedVariant, Variant
from pipeline.store.sends import OPEN_STATUSES
from pipeline.store.tables import campaigns, sends, variants


@dataclass(frozen=True)
class CampaignRow:
    id: int
    slug: str
    state: str
    spec: Mapping[str, object]


def lock_campaign(conn: Connection, slug: str) -> CampaignRow | None:
    """The campaign row, locked until the transaction ends (FOR UPDATE on PostgreSQL; SQLite's
    BEGIN IMMEDIATE already serialises writers), so two starts cannot both pass the state test."""
    row = conn.execute(
        select(campaigns.c.id, campaigns.c.slug, campaigns.c.state, campaigns.c.spec)
        .where(campaigns.c.slug == slug)
        .with_for_update()
    ).one_or_none()
    return None if row is None else CampaignRow(row.id, row.slug, row.state, row.spec)


def get_campaign_row(conn: Connection, slug: str) -> CampaignRow | None:
    row = conn.execute(
        select(campaigns.c.id, campaigns.c.slug, campaigns.c.state, campaigns.c.spec).where(
            campaigns.c.slug == slug
        )
    ).one_or_none()
    return None if row is None else CampaignRow(row.id, row.slug, row.state, row.spec)


def mark_campaign_sending(conn: Connection, campaign_id: int, now: datetime) -> None:
    conn.execute(
        update(campaigns)
        .where(campaigns.c.id == campaign_id)
        .values(state="sending", started_at=now, state_reason=None, updated_at=now)
    )


def campaigns_sending(conn: Connection) -> list[int]:
    """Ids of the campaigns whose outbox workers should drain."""
    return list(
        conn.execute(
            select(campaigns.c.id).where(campaigns.c.state == "sending").order_by(campaigns.c.id)
        ).scalars()
    )


def store_variants(
    conn: Connection,
    campaign_id: int,
    rendered: Sequence[RenderedVariant],
    plan_variants: Mapping[str, Variant],
    now: datetime,
) -> dict[str, int]:
    """Store each rendered variant once (its HTML and text still holding the token
    placeholders, and the placeholders themselves); returns {segment: variant id}."""
    ids: dict[str, int] = {}
    for variant in rendered:
        planned = plan_variants[variant.segment]
        ids[variant.segment] = conn.execute(
            insert(variants)
            .values(
                campaign_id=campaign_id,
                segment=variant.segment,
                segment_code=variant.segment_code,
                subject=variant.subject,
                preheader=variant.preheader,
                score=planned.score,
                matches=dict(planned.matches),
                excerpt=list(planned.excerpt),
                html=variant.html,
                text=variant.text,
                tokens={"html": dict(variant.html_tokens), "text": dict(variant.text_tokens)},
                created_at=now,
            )
            .returning(variants.c.id)
        ).scalar_one()
    return ids


def load_rendered_variant(conn: Connection, variant_id: int) -> RenderedVariant:
    """A stored variant as the backend takes it, so a worker in any process sends exactly
    what was rendered when the campaign started."""
    row = conn.execute(
        select(variants, campaigns.c.slug)
        .join(campaigns, campaigns.c.id == variants.c.campaign_id)
        .where(variants.c.id == variant_id)
    ).one()
    return RenderedVariant(
        campaign=row.slug,
        segment=row.segment,
        segment_code=row.segment_code,
        subject=row.subject,
        preheader=row.preheader,
        html=row.html,
        text=row.text,
        html_tokens=row.tokens["html"],
        text_tokens=row.tokens["text"],
        campaign_id=row.campaign_id,
        variant_id=row.id,
    )


@dataclass(frozen=True)
class OutboxState:
    """What is left of a campaign's outbox, and when the next piece of it becomes due."""

    campaign_state: str
    counts: Mapping[str, int]
    next_due_at: datetime | None

    @property
    def open(self) -> int:
        return sum(self.counts.get(status, 0) for status in OPEN_STATUSES)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def outbox_state(conn: Connection, campaign_id: int) -> OutboxState:
    """The campaign's state, its sends counted by status, and the earliest time a waiting row
    (backing off, or unknown awaiting its reconciliation window) becomes due again."""
    counts: dict[str, int] = dict(
        conn.execute(
            select(sends.c.status, func.count())
            .where(sends.c.campaign_id == campaign_id)
            .group_by(sends.c.status)
        ).all()
    )
    next_due_at = conn.execute(
        select(func.min(sends.c.next_attempt_at)).where(
            sends.c.campaign_id == campaign_id, sends.c.status.in_(("queued", "unknown"))
        )
    ).scalar_one()
    campaign_state = conn.execute(
        select(campaigns.c.state).where(campaigns.c.id == campaign_id)
    ).scalar_one()
    return OutboxState(campaign_state=campaign_state, counts=counts, next_due_at=next_due_at)


def finish_campaign_if_drained(conn: Connection, campaign_id: int, now: datetime) -> bool:
    """Move a `sending` campaign to `sent` once no send is still owed an outcome."""
    still_open = exists().where(
        sends.c.campaign_id == campaign_id, sends.c.status.in_(OPEN_STATUSES)
    )
    return (
        conn.execute(
            update(campaigns)
            .where(campaigns.c.id == campaign_id, campaigns.c.state == "sending", ~still_open)
            .values(state="sent", finished_at=now, updated_at=now)
        ).rowcount
        == 1
    )


def outbox_counts_by_variant(conn: Connection, campaign_id: int) -> dict[str, dict[str, int]]:
    """{segment: {status: rows}} for the campaign's outbox."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    rows = conn.execute(
        select(variants.c.segment, sends.c.status, func.count())
        .join(variants, variants.c.id == sends.c.variant_id)
        .where(sends.c.campaign_id == campaign_id)
        .group_by(variants.c.segment, sends.c.status)
    )
    for segment, status, count in rows:
        counts[segment][status] = count
    return dict(counts)
