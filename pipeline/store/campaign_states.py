"""Campaign lifecycle queries: every state change is one conditional UPDATE (… WHERE state IN …),
so two actors racing for the same transition cannot both win; plus the weekly-cap condition and
the digest-occurrence ledger."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from pipeline.models import CampaignLifecycle
from pipeline.store.segments import mailable_condition
from pipeline.store.tables import campaigns, contacts, digest_runs, sends

# Send statuses that mean an email went out, or may have (in flight or awaiting reconciliation).
_WENT_OUT = ("sent", "sending", "unknown", "delivered", "bounced", "dropped")
CAP_WINDOW = timedelta(days=7)


def _record(row: Any) -> CampaignLifecycle:
    spec = row.spec if isinstance(row.spec, Mapping) else {}
    send_at = spec.get("send_at")
    return CampaignLifecycle(
        id=row.id,
        slug=row.slug,
        name=row.name,
        origin=row.origin,
        state=row.state,
        spec_hash=row.spec_hash,
        scheduled_for=row.scheduled_for,
        approved_at=row.approved_at,
        approved_by=row.approved_by,
        started_at=row.started_at,
        finished_at=row.finished_at,
        state_reason=row.state_reason,
        resume_at=row.resume_at,
        cron=spec.get("cron"),
        send_at=datetime.fromisoformat(send_at) if isinstance(send_at, str) else None,
    )


def find_campaign(conn: Connection, slug: str) -> CampaignLifecycle | None:
    row = conn.execute(select(campaigns).where(campaigns.c.slug == slug)).first()
    return None if row is None else _record(row)


def campaign_spec_document(conn: Connection, slug: str) -> dict[str, Any] | None:
    return conn.execute(select(campaigns.c.spec).where(campaigns.c.slug == slug)).scalar()


def campaigns_in_states(conn: Connection, states: Iterable[str]) -> list[CampaignLifecycle]:
    rows = conn.execute(
        select(campaigns).where(campaigns.c.state.in_(list(states))).order_by(campaigns.c.slug)
    )
    return [_record(row) for row in rows]


def all_campaigns(conn: Connection) -> list[CampaignLifecycle]:
    return [_record(row) for row in conn.execute(select(campaigns).order_by(campaigns.c.slug))]


def insert_campaign(
    conn: Connection,
    *,
    slug: str,
    name: str,
    origin: str,
    spec: Mapping[str, Any],
    spec_hash: str,
    state: str,
    now: datetime,
    scheduled_for: datetime | None = None,
    approved_by: str | None = None,
    approved_at: datetime | None = None,
    state_reason: str | None = None,
) -> int | None:
    """Insert a campaign row; None when the slug already exists (another actor made it first).

    The insert runs in a savepoint so that losing the race leaves the caller's transaction usable.
    """
    try:
        with conn.begin_nested():
            return conn.execute(
                insert(campaigns)
                .values(
                    slug=slug, name=name, origin=origin, spec=dict(spec), spec_hash=spec_hash,
                    state=state, scheduled_for=scheduled_for, approved_by=approved_by,
                    approved_at=approved_at, state_reason=state_reason,
                    created_at=now, updated_at=now,
                )
                .returning(campaigns.c.id)
            ).scalar_one()  # fmt: skip
    except IntegrityError:
        return None


def transition(
    conn: Connection,
    slug: str,
    from_states: Sequence[str],
    to_state: str,
    now: datetime,
    *,
    expect: Mapping[str, Any] | None = None,
    **values: Any,
) -> bool:
    """Move `slug` from one of `from_states` to `to_state`, setting `values`; False when the
    campaign was not in one of those states (someone else moved it first). `expect` adds
    column equalities to the condition (e.g. the scheduled_for a trigger was made for)."""
    condition = and_(campaigns.c.slug == slug, campaigns.c.state.in_(list(from_states)))
    for column, value in (expect or {}).items():
        condition = and_(condition, campaigns.c[column] == value)
    result = conn.execute(
        update(campaigns).where(condition).values(state=to_state, updated_at=now, **values)
    )
    return result.rowcount == 1


def update_spec(
    conn: Connection,
    campaign_id: int,
    *,
    expected_hash: str,
    name: str,
    spec: Mapping[str, Any],
    spec_hash: str,
    now: datetime,
    **values: Any,
) -> bool:
    """Replace a campaign's stored spec, only if it still has the hash the caller read and has
    not started sending (a sync racing a start must lose, not rewrite a running campaign)."""
    result = conn.execute(
        update(campaigns)
        .where(
            campaigns.c.id == campaign_id,
            campaigns.c.spec_hash == expected_hash,
            campaigns.c.started_at.is_(None),
        )
        .values(name=name, spec=dict(spec), spec_hash=spec_hash, updated_at=now, **values)
    )
    return result.rowcount == 1


def pause_for_quiet_hours(
    conn: Connection, resume_at: datetime, reason: str, now: datetime
) -> list[str]:
    """Hold every running campaign until `resume_at`; the slugs it paused."""
    paused = conn.execute(
        update(campaigns)
        .where(campaigns.c.state == "sending")
        .values(state="paused", resume_at=resume_at, state_reason=reason, updated_at=now)
        .returning(campaigns.c.slug)
    )
    return sorted(paused.scalars())


def resume_after_quiet_hours(conn: Connection, now: datetime) -> list[str]:
    """Resume campaigns held by quiet hours or closures whose resume time has come. Campaigns
    paused by staff have no resume_at and stay paused."""
    resumed = conn.execute(
        update(campaigns)
        .where(
            campaigns.c.state == "paused",
            campaigns.c.resume_at.is_not(None),
            campaigns.c.resume_at <= now,
        )
        .values(state="sending", resume_at=None, state_reason=None, updated_at=now)
        .returning(campaigns.c.slug)
    )
    return sorted(resumed.scalars())


def skip_queued_sends(conn: Connection, campaign_id: int, reason: str, now: datetime) -> int:
    """Cancelled campaigns never send their remaining queue: mark it skipped, with the reason."""
    result = conn.execute(
        update(sends)
        .where(sends.c.campaign_id == campaign_id, sends.c.status == "queued")
        .values(status="skipped", reason=reason, updated_at=now)
    )
    return result.rowcount


def weekly_cap_condition(now: datetime, cap: int, campaign_id: Any) -> ColumnElement[bool]:
    """True for contacts that may receive one more marketing email from `campaign_id` (a value or
    a column) under a cap of `cap` per rolling 7 days. Emails of other campaigns count when they
    went out in the window, are in flight, or are queued to go out (so two campaigns started one
    after the other share the cap instead of both seeing room for the same contact)."""
    since = now - CAP_WINDOW
    counted = (
        select(func.count())
        .select_from(sends)
        .where(
            sends.c.contact_id == contacts.c.id,
            sends.c.campaign_id != campaign_id,
            or_(
                sends.c.status == "queued",
                and_(
                    sends.c.status.in_(_WENT_OUT),
                    func.coalesce(sends.c.sent_at, sends.c.updated_at) > since,
                ),
            ),
        )
        .scalar_subquery()
    )
    return counted < cap


def last_started_digest(conn: Connection, campaign_id: int) -> tuple[datetime, list[str]] | None:
    """The previous digest that went out: its occurrence time and the articles it carried."""
    row = conn.execute(
        select(digest_runs.c.occurrence_at, digest_runs.c.articles)
        .where(digest_runs.c.campaign_id == campaign_id, digest_runs.c.outcome == "started")
        .order_by(digest_runs.c.occurrence_at.desc())
        .limit(1)
    ).first()
    return None if row is None else (row.occurrence_at, list(row.articles))


def digested_articles_since(conn: Connection, campaign_id: int, since: datetime) -> set[str]:
    """Slugs already carried by this digest's occurrences from `since` on."""
    rows = conn.execute(
        select(digest_runs.c.articles).where(
            digest_runs.c.campaign_id == campaign_id,
            digest_runs.c.outcome == "started",
            digest_runs.c.occurrence_at >= since,
        )
    )
    return {slug for (articles,) in rows for slug in articles}


def record_digest_run(
    conn: Connection,
    *,
    campaign_id: int,
    occurrence_at: datetime,
    outcome: str,
    now: datetime,
    reason: str | None = None,
    articles: Sequence[str] = (),
    occurrence_campaign_id: int | None = None,
) -> bool:
    """Record what became of one occurrence; False when it is already on record (the unique
    (campaign, occurrence) key makes a duplicate trigger a no-op)."""
    try:
        with conn.begin_nested():
            conn.execute(
                insert(digest_runs).values(
                    campaign_id=campaign_id, occurrence_at=occurrence_at, outcome=outcome,
                    reason=reason, articles=list(articles),
                    occurrence_campaign_id=occurrence_campaign_id, created_at=now,
                )
            )  # fmt: skip
    except IntegrityError:
        return False
    return True


def digest_runs_of(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(digest_runs)
        .where(digest_runs.c.campaign_id == campaign_id)
        .order_by(digest_runs.c.occurrence_at)
    )
    return [dict(row._mapping) for row in rows]


def contacts_at_weekly_cap(conn: Connection, campaign_id: int, at: datetime, cap: int) -> int:
    """How many contacts would be skipped by the weekly cap if `campaign_id` started at `at`
    (among mailable contacts; who of them is in the audience is known only when it starts)."""
    # The cap is a correlated count per contact; when no other campaign has an email in the
    # window (the usual case), nobody can be at the cap and the scan is skipped.
    recent = conn.execute(
        select(sends.c.id)
        .where(
            sends.c.campaign_id != campaign_id,
            or_(sends.c.status == "queued", sends.c.updated_at > at - CAP_WINDOW),
        )
        .limit(1)
    ).first()
    if cap > 0 and recent is None:
        return 0
    return conn.execute(
        select(func.count())
        .select_from(contacts)
        .where(mailable_condition(at), ~weekly_cap_condition(at, cap, campaign_id))
    ).scalar_one()


# Sends whose status shows a claim happened: once one exists, a cancel cannot be taken back.
_CLAIMED = ("sending", "sent", "unknown", "delivered", "bounced", "dropped", "failed")


def undo_cancel(
    conn: Connection, slug: str, back_to: str, cancelled_at: datetime, now: datetime
) -> bool:
    """Take back a cancel made at `cancelled_at`: the campaign returns to `back_to` and the
    emails the cancel skipped are queued again. Only while nothing else changed it since and
    no batch of it was ever claimed; False otherwise, with nothing changed."""
    found = find_campaign(conn, slug)
    if found is None or found.state != "cancelled":
        return False
    claimed = conn.execute(
        select(func.count())
        .select_from(sends)
        .where(sends.c.campaign_id == found.id, sends.c.status.in_(_CLAIMED))
    ).scalar_one()
    if claimed:
        return False
    moved = conn.execute(
        update(campaigns)
        .where(
            campaigns.c.id == found.id,
            campaigns.c.state == "cancelled",
            campaigns.c.updated_at == cancelled_at,
        )
        .values(state=back_to, state_reason=None, updated_at=now)
    ).rowcount
    if not moved:
        return False
    conn.execute(
        update(sends)
        .where(
            sends.c.campaign_id == found.id,
            sends.c.status == "skipped",
            sends.c.reason == "campaign cancelled",
        )
        .values(status="queued", reason=None, updated_at=now)
    )
    return True
