"""Queries behind campaign metrics: send statuses per variant, first-engagement counters per
variant and day, and the same across campaigns for the owner's overview."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, func, select, text

from pipeline.errors import NotFoundError
from pipeline.store.tables import campaigns, event_counts, events, sends, variants


@dataclass(frozen=True)
class CampaignRow:
    id: int
    slug: str
    name: str
    state: str
    scheduled_for: datetime | None
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class VariantRow:
    id: int
    segment: str
    segment_code: str


_CAMPAIGN_COLUMNS = (
    campaigns.c.id,
    campaigns.c.slug,
    campaigns.c.name,
    campaigns.c.state,
    campaigns.c.scheduled_for,
    campaigns.c.started_at,
    campaigns.c.finished_at,
)


def campaign_by_slug(conn: Connection, slug: str) -> CampaignRow:
    row = conn.execute(select(*_CAMPAIGN_COLUMNS).where(campaigns.c.slug == slug)).one_or_none()
    if row is None:
        raise NotFoundError(
            f"no campaign {slug!r} in the database: check the slug (the name of its file in "
            "campaigns/, without .yaml) or the campaigns list in the web app"
        )
    return CampaignRow(*row)


def campaign_variants(conn: Connection, campaign_id: int) -> list[VariantRow]:
    rows = conn.execute(
        select(variants.c.id, variants.c.segment, variants.c.segment_code)
        .where(variants.c.campaign_id == campaign_id)
        .order_by(variants.c.id)
    )
    return [VariantRow(*row) for row in rows]


# SQLite: list the campaign's statuses with a loose index scan (one B-tree seek per status),
# then count each (status, variant) range of ix_sends_claim. Stepping through an index range
# for COUNT(*) costs about half of feeding the same rows through GROUP BY, and this count is
# the only part of the metrics that grows with the audience.
_SQLITE_STATUS_COUNTS = text(
    """
    WITH RECURSIVE statuses(status) AS (
        SELECT MIN(status) FROM sends WHERE campaign_id = :campaign_id
        UNION ALL
        SELECT (SELECT MIN(status) FROM sends
                WHERE campaign_id = :campaign_id AND status > statuses.status)
        FROM statuses WHERE status IS NOT NULL
    )
    SELECT variants.id, statuses.status,
           (SELECT COUNT(*) FROM sends
            WHERE campaign_id = :campaign_id AND status = statuses.status
              AND variant_id = variants.id)
    FROM statuses JOIN variants ON variants.campaign_id = :campaign_id
    WHERE statuses.status IS NOT NULL
    """
)


def send_status_counts(conn: Connection, campaign_id: int) -> list[tuple[int, str, int]]:
    """(variant_id, status, sends) of one campaign, from ix_sends_claim (campaign_id, status,
    variant_id) alone. PostgreSQL aggregates an index-only scan with a hash; SQLite counts
    index ranges (see above)."""
    if conn.dialect.name == "sqlite":
        rows = conn.execute(_SQLITE_STATUS_COUNTS, {"campaign_id": campaign_id})
        return [(variant_id, status, count) for variant_id, status, count in rows if count]
    rows = conn.execute(
        select(sends.c.variant_id, sends.c.status, func.count())
        .where(sends.c.campaign_id == campaign_id)
        .group_by(sends.c.status, sends.c.variant_id)
    )
    return [(variant_id, status, count) for variant_id, status, count in rows]


def engagement_counts(conn: Connection, campaign_id: int) -> list[tuple[int, str, bool, int]]:
    """(variant_id, kind, simulated, sends): the counters ingestion keeps, summed over days; a
    few hundred rows whatever the number of events."""
    rows = conn.execute(
        select(
            event_counts.c.variant_id,
            event_counts.c.kind,
            event_counts.c.simulated,
            func.sum(event_counts.c.count),
        )
        .where(event_counts.c.campaign_id == campaign_id)
        .group_by(event_counts.c.variant_id, event_counts.c.kind, event_counts.c.simulated)
    )
    return [(variant_id, kind, bool(sim), int(n)) for variant_id, kind, sim, n in rows]


def daily_engagement_counts(
    conn: Connection, campaign_id: int | None, first_day: date, last_day: date
) -> list[tuple[date, str, int]]:
    """(local day, kind, sends) within [first_day, last_day], for one campaign or all."""
    query = (
        select(event_counts.c.day, event_counts.c.kind, func.sum(event_counts.c.count))
        .where(event_counts.c.day >= first_day, event_counts.c.day <= last_day)
        .group_by(event_counts.c.day, event_counts.c.kind)
    )
    if campaign_id is not None:
        query = query.where(event_counts.c.campaign_id == campaign_id)
    return [(day, kind, int(n)) for day, kind, n in conn.execute(query)]


def segment_engagement_since(
    conn: Connection, first_day: date
) -> list[tuple[tuple[str, str], str, bool, int]]:
    """((segment name, code), kind, simulated, sends) over every campaign from `first_day` on."""
    rows = conn.execute(
        select(
            variants.c.segment,
            variants.c.segment_code,
            event_counts.c.kind,
            event_counts.c.simulated,
            func.sum(event_counts.c.count),
        )
        .join(variants, variants.c.id == event_counts.c.variant_id)
        .where(event_counts.c.day >= first_day)
        .group_by(
            variants.c.segment,
            variants.c.segment_code,
            event_counts.c.kind,
            event_counts.c.simulated,
        )
    )
    return [((segment, code), kind, bool(sim), int(n)) for segment, code, kind, sim, n in rows]


def segment_statuses_since(
    conn: Connection, started: datetime
) -> list[tuple[tuple[str, str], str, int]]:
    """((segment name, code), send status, sends) for campaigns started at or after `started`."""
    rows = conn.execute(
        select(variants.c.segment, variants.c.segment_code, sends.c.status, func.count())
        .select_from(sends)
        .join(variants, variants.c.id == sends.c.variant_id)
        .join(campaigns, campaigns.c.id == sends.c.campaign_id)
        .where(campaigns.c.started_at >= started)
        .group_by(variants.c.segment, variants.c.segment_code, sends.c.status)
    )
    return [((segment, code), status, count) for segment, code, status, count in rows]


def campaigns_active_since(
    conn: Connection, started: datetime, first_day: date
) -> list[CampaignRow]:
    """Campaigns started since `started`, or with engagement counted since `first_day`."""
    engaged = select(event_counts.c.campaign_id).where(event_counts.c.day >= first_day)
    rows = conn.execute(
        select(*_CAMPAIGN_COLUMNS)
        .where((campaigns.c.started_at >= started) | campaigns.c.id.in_(engaged))
        .order_by(campaigns.c.started_at.desc(), campaigns.c.id.desc())
    )
    return [CampaignRow(*row) for row in rows]


def segment_daily_engagement_counts(
    conn: Connection, first_day: date, last_day: date
) -> list[tuple[str, date, str, int]]:
    """(segment name, local day, kind, sends) within [first_day, last_day], across campaigns."""
    rows = conn.execute(
        select(
            variants.c.segment,
            event_counts.c.day,
            event_counts.c.kind,
            func.sum(event_counts.c.count),
        )
        .join(variants, variants.c.id == event_counts.c.variant_id)
        .where(event_counts.c.day >= first_day, event_counts.c.day <= last_day)
        .group_by(variants.c.segment, event_counts.c.day, event_counts.c.kind)
    )
    return [(segment, day, kind, int(n)) for segment, day, kind, n in rows]


def campaign_clicks(conn: Connection, campaign_id: int) -> list[tuple[str, int]]:
    """(url, send id) of every click on one campaign's emails (ix_events_clicks)."""
    rows = conn.execute(
        select(events.c.url, events.c.send_id).where(
            events.c.campaign_id == campaign_id,
            events.c.event == "click",
            events.c.url.is_not(None),
            events.c.send_id.is_not(None),
        )
    )
    return [(url, send_id) for url, send_id in rows]


def engagement_by_variant(
    conn: Connection, campaign_ids: list[int]
) -> list[tuple[int, int, str, str, bool, int]]:
    """(campaign id, variant id, segment name, kind, simulated, sends) of these campaigns from
    the engagement counters: a few hundred rows whatever the number of events."""
    if not campaign_ids:
        return []
    rows = conn.execute(
        select(
            event_counts.c.campaign_id,
            event_counts.c.variant_id,
            variants.c.segment,
            event_counts.c.kind,
            event_counts.c.simulated,
            func.sum(event_counts.c.count),
        )
        .join(variants, variants.c.id == event_counts.c.variant_id)
        .where(event_counts.c.campaign_id.in_(campaign_ids))
        .group_by(
            event_counts.c.campaign_id,
            event_counts.c.variant_id,
            variants.c.segment,
            event_counts.c.kind,
            event_counts.c.simulated,
        )
    )
    return [(c, v, segment, kind, bool(sim), int(n)) for c, v, segment, kind, sim, n in rows]


def sends_sent_between(
    conn: Connection, first: datetime, end: datetime
) -> list[tuple[int, int, int]]:
    """(campaign id, variant id, sends) of sends handed to the provider in [first, end)."""
    rows = conn.execute(
        select(sends.c.campaign_id, sends.c.variant_id, func.count())
        .where(sends.c.sent_at >= first, sends.c.sent_at < end)
        .group_by(sends.c.campaign_id, sends.c.variant_id)
    )
    return [(campaign_id, variant_id, int(count)) for campaign_id, variant_id, count in rows]


def engagement_between(
    conn: Connection, first_day: date, last_day: date
) -> list[tuple[int, int, str, bool, int]]:
    """(campaign id, variant id, kind, simulated, sends) first seen on local days in
    [first_day, last_day]."""
    rows = conn.execute(
        select(
            event_counts.c.campaign_id,
            event_counts.c.variant_id,
            event_counts.c.kind,
            event_counts.c.simulated,
            func.sum(event_counts.c.count),
        )
        .where(event_counts.c.day >= first_day, event_counts.c.day <= last_day)
        .group_by(
            event_counts.c.campaign_id,
            event_counts.c.variant_id,
            event_counts.c.kind,
            event_counts.c.simulated,
        )
    )
    return [(c, v, kind, bool(sim), int(n)) for c, v, kind, sim, n in rows]


def campaigns_by_id(conn: Connection, ids: list[int]) -> list[CampaignRow]:
    if not ids:
        return []
    rows = conn.execute(
        select(*_CAMPAIGN_COLUMNS)
        .where(campaigns.c.id.in_(ids))
        .order_by(campaigns.c.started_at.desc(), campaigns.c.id.desc())
    )
    return [CampaignRow(*row) for row in rows]


def variants_by_id(conn: Connection, ids: list[int]) -> dict[int, VariantRow]:
    if not ids:
        return {}
    rows = conn.execute(
        select(variants.c.id, variants.c.segment, variants.c.segment_code)
        .where(variants.c.id.in_(ids))
        .order_by(variants.c.id)
    )
    return {row[0]: VariantRow(*row) for row in rows}
