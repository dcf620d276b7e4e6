"""The outbox in the database: materialising a campaign's audience into `sends`, claiming batches
under a lease, recording what the provider said, and reconciling ambiguous outcomes.

Every statement here is set-based: one INSERT … SELECT for the audience, one UPDATE per claim,
one UPDATE per outcome group. Rows move queued → sending → sent | failed | skipped | unknown,
and unknown → sent | queued on reconciliation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    Update,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql.dml import ReturningUpdate
from sqlalchemy.types import Integer, String

from pipeline.models import ClaimedRow, Outcome, Segment
from pipeline.store.campaign_states import CAP_WINDOW, weekly_cap_condition
from pipeline.store.campaigns import assignment_case
from pipeline.store.contacts import mailable_condition
from pipeline.store.events import status_once_accepted
from pipeline.store.tables import campaigns, contacts, events, sends
from pipeline.store.types import UtcDateTime

# Rows still owed an outcome: the campaign is not finished while any exist.
OPEN_STATUSES = ("queued", "sending", "unknown")
WEEKLY_CAP_REASON = "weekly cap"
SKIPPED_REASON = "no longer mailable at send time (unsubscribed, suppressed, paused or erased)"


@dataclass(frozen=True)
class ClaimedBatch:
    """Rows of one variant leased to one claim, in id order; `skipped` were dropped at claim
    time."""

    lease_owner: str
    variant_id: int
    sends: tuple[ClaimedRow, ...]
    skipped: int
    attempts: int

    @property
    def send_ids(self) -> list[int]:
        return [send_id for send_id, *_ in self.sends]


def count_sends(conn: Connection, campaign_id: int) -> int:
    return conn.execute(
        select(func.count()).select_from(sends).where(sends.c.campaign_id == campaign_id)
    ).scalar_one()


def materialise_sends(
    conn: Connection,
    campaign_id: int,
    ordered: Sequence[tuple[Segment, int]],
    general_variant_id: int | None,
    excluded: Sequence[Segment],
    now: datetime,
    today: date,
    weekly_cap: int,
) -> int:
    """Snapshot the audience into `sends` with one INSERT … SELECT; returns the rows written.

    `ordered` pairs each segment with its variant id, best-fitting segment first; the CASE
    (store.campaigns.assignment_case, the one the plan's counts use) gives a contact in several
    segments the first variant whose segment it is in, and contacts in none of them the general
    variant when there is one (except members of `excluded`). Only mailable contacts get a row;
    those over the weekly cap get a `skipped` one, so staff see them counted. The caller
    guarantees this runs once per campaign."""
    variant, in_audience = assignment_case(ordered, general_variant_id, today, excluded)
    # The cap's count is a correlated subquery per contact; when no other campaign has an email
    # that could count (queued, or touched within the window), nobody can be over a positive
    # cap and a million lookups are saved.
    others_count = exists().where(
        sends.c.campaign_id != campaign_id,
        or_(
            sends.c.status == "queued",
            func.coalesce(sends.c.sent_at, sends.c.updated_at) > now - CAP_WINDOW,
        ),
    )
    capped = weekly_cap <= 0 or conn.execute(select(others_count)).scalar_one()
    within_cap = weekly_cap_condition(now, weekly_cap, campaign_id) if capped else true()
    audience = select(
        literal(campaign_id, Integer),
        contacts.c.id,
        variant,
        case((within_cap, literal("queued", String)), else_=literal("skipped", String)),
        literal(0, Integer),
        literal(now, UtcDateTime()),
        literal(now, UtcDateTime()),
    ).where(mailable_condition(now), in_audience)
    # Numbered variant by variant: a claimed batch (rows of one variant in id order) is then a
    # run of neighbouring rows, whose claim and results rewrite a quarter of the pages they
    # would if the variants were interleaved.
    audience = audience.order_by(variant, contacts.c.id)
    columns = [
        "campaign_id", "contact_id", "variant_id", "status", "attempts", "queued_at", "updated_at",
    ]  # fmt: skip
    conn.execute(insert(sends).from_select(columns, audience))
    if capped:
        # The reason is written afterwards, to the few skipped rows, so that the cap's subquery
        # runs once per contact rather than once per column.
        conn.execute(
            update(sends)
            .where(sends.c.campaign_id == campaign_id, sends.c.status == "skipped")
            .values(reason=WEEKLY_CAP_REASON)
        )
    # Counted rather than taken from rowcount, which psycopg reports as -1 for INSERT … SELECT.
    return count_sends(conn, campaign_id)


@lru_cache(maxsize=2)
def _claim_statement(*, skip_locked: bool) -> ReturningUpdate[Any]:
    """The claim as one UPDATE … RETURNING, built once: a thousand-row claim runs it in about
    7 ms, and building the statement anew each time took one more."""
    campaign_id = bindparam("claim_campaign", type_=Integer)
    now = bindparam("claim_now", type_=UtcDateTime())
    # Pausing, cancelling or quiet hours move the campaign out of `sending`: claims stop at once.
    campaign_is_sending = exists().where(
        campaigns.c.id == campaign_id, campaigns.c.state == "sending"
    )
    due = and_(
        campaign_is_sending,
        sends.c.campaign_id == campaign_id,
        sends.c.status == "queued",
        or_(sends.c.next_attempt_at.is_(None), sends.c.next_attempt_at <= now),
    )
    # The lowest variant with a due row, found by its lowest due id. Both lookups walk
    # ix_sends_claim (campaign_id, status, variant_id, id) in order, without sorting a million
    # rows. On PostgreSQL the row this lookup locks is then the first of the batch: were it
    # another row of the variant, every other claim would skip it until this one commits, and
    # it would go out later in a batch of its own.
    pick_variant = (
        select(sends.c.variant_id).where(due).order_by(sends.c.variant_id, sends.c.id).limit(1)
    )
    if skip_locked:
        pick_variant = pick_variant.with_for_update(skip_locked=True)
    batch = (
        select(sends.c.id)
        .where(due, sends.c.variant_id == pick_variant.scalar_subquery())
        .order_by(sends.c.id)
        .limit(bindparam("claim_limit", type_=Integer))
    )
    if skip_locked:
        batch = batch.with_for_update(skip_locked=True)
    # Consent and suppressions are re-checked by the claim itself: a row whose contact is no
    # longer mailable is claimed straight into `skipped` and never reaches the backend.
    still_mailable = exists().where(contacts.c.id == sends.c.contact_id, mailable_condition(now))
    of_contact = contacts.c.id == sends.c.contact_id
    return (
        update(sends)
        .where(sends.c.id.in_(batch.scalar_subquery()))
        .values(
            status=case((still_mailable, "sending"), else_="skipped"),
            lease_owner=bindparam("claim_owner", type_=String),
            lease_expires_at=bindparam("claim_expires", type_=UtcDateTime()),
            attempts=sends.c.attempts + 1,
            updated_at=now,
        )
        # The address and name come back with the claim itself: no second query per batch.
        .returning(
            sends.c.id,
            sends.c.contact_id,
            select(contacts.c.email).where(of_contact).scalar_subquery().label("email"),
            select(contacts.c.first_name).where(of_contact).scalar_subquery().label("first_name"),
            sends.c.status,
            sends.c.variant_id,
            sends.c.attempts,
        )
    )


def claim_batch(
    conn: Connection,
    campaign_id: int,
    lease_owner: str,
    lease_expires_at: datetime,
    now: datetime,
    limit: int,
) -> ClaimedBatch | None:
    """Lease up to `limit` due rows of one variant to `lease_owner`, re-check each contact's
    mailability, and return the rows still to send (None when nothing is due).

    Run inside one transaction: on PostgreSQL the row locks (FOR UPDATE SKIP LOCKED) let several
    workers claim side by side without waiting for or taking each other's rows; on SQLite the
    transaction is BEGIN IMMEDIATE (see store.engine) and the single UPDATE … RETURNING is the
    whole claim, so two claims never overlap."""
    claimed = conn.execute(
        _claim_statement(skip_locked=conn.dialect.name == "postgresql"),
        {
            "claim_campaign": campaign_id,
            "claim_owner": lease_owner,
            "claim_expires": lease_expires_at,
            "claim_now": now,
            "claim_limit": limit,
        },
    ).all()
    if not claimed:
        return None
    ids, contact_ids, emails, first_names, statuses, variant_ids, attempts = zip(
        *claimed, strict=True
    )
    rows: Iterable[ClaimedRow] = zip(ids, contact_ids, emails, first_names, strict=True)
    skipped = statuses.count("skipped")
    if skipped:
        rows = [row for row, status in zip(rows, statuses, strict=True) if status == "sending"]
        # The claim's rows lie between its smallest and largest id and carry its lease: a
        # primary-key range scan finds them again without a thousand bound parameters.
        conn.execute(
            update(sends)
            .where(
                sends.c.id.between(min(ids), max(ids)),
                sends.c.lease_owner == lease_owner,
                sends.c.status == "skipped",
            )
            .values(reason=SKIPPED_REASON, lease_owner=None, lease_expires_at=None)
        )
    return ClaimedBatch(
        lease_owner=lease_owner,
        variant_id=variant_ids[0],
        sends=tuple(sorted(rows)),
        skipped=skipped,
        attempts=max(attempts),
    )


def record_results(
    conn: Connection,
    lease_owner: str,
    outcomes: Mapping[Outcome, Sequence[int]],
    now: datetime,
    *,
    retry_delay: timedelta,
    reconcile_after: timedelta,
    max_attempts: int,
) -> dict[str, int]:
    """Write a claim's outcomes (group_results of one result per row of the claim still
    `sending`): one UPDATE per group.

    Only rows this claim still leases are touched. A `sent` result also lands on a row that an
    expired lease already turned `unknown` (the send went out; that is what reconciliation would
    find), but never on one re-queued or claimed again since. `retry` rows wait `retry_delay`,
    or fail for good once they have had `max_attempts`; `unknown` rows wait `reconcile_after` for
    the provider's events before reconciliation may re-queue them."""
    written: dict[str, int] = defaultdict(int)
    for (outcome, message_id, reason, _), ids in outcomes.items():
        if outcome == "failed":
            reason = reason or "rejected by the provider"
        elif outcome == "unknown":
            reason = reason or "outcome unknown"
        # One outcome for the whole batch (the usual case) needs no list of ids: the claim's
        # id range and lease name exactly its rows.
        whole_claim = len(outcomes) == 1
        statement = _record_statement(
            outcome,
            whole_claim=whole_claim,
            plain_sent=outcome == "sent" and _plain_sent(conn, ids),
        )
        parameters = {
            "record_low": min(ids),
            "record_high": max(ids),
            "record_owner": lease_owner,
            "record_now": now,
            "record_message_id": message_id,
            "record_reason": reason,
            "record_gave_up": f"gave up after {max_attempts} attempts: "
            f"{reason or 'retryable error'}",
            "record_max_attempts": max_attempts,
            "record_next_attempt": now + (retry_delay if outcome == "retry" else reconcile_after),
        }
        if not whole_claim:
            parameters["record_ids"] = list(ids)
        written[outcome] += conn.execute(statement, parameters).rowcount
    return dict(written)


@lru_cache(maxsize=16)
def _record_statement(outcome: str, *, whole_claim: bool, plain_sent: bool) -> Update:
    """record_results' UPDATE for one kind of outcome, built once (see _claim_statement)."""
    now = bindparam("record_now", type_=UtcDateTime())
    reason = bindparam("record_reason", type_=String)
    leased = and_(
        sends.c.id.between(
            bindparam("record_low", type_=Integer), bindparam("record_high", type_=Integer)
        ),
        sends.c.lease_owner == bindparam("record_owner", type_=String),
    )
    if not whole_claim:
        leased = and_(leased, sends.c.id.in_(bindparam("record_ids", expanding=True)))
    if outcome == "sent":
        return (
            update(sends)
            .where(leased, sends.c.status.in_(("sending", "unknown")))
            .values(
                status="sent" if plain_sent else status_once_accepted(sends.c.id),
                sent_at=now,
                provider_message_id=bindparam("record_message_id", type_=String),
                reason=None,
                lease_expires_at=None,
                next_attempt_at=None,
                updated_at=now,
            )
        )
    if outcome == "failed":
        return (
            update(sends)
            .where(leased, sends.c.status == "sending")
            .values(status="failed", reason=reason, lease_expires_at=None, updated_at=now)
        )
    next_attempt = bindparam("record_next_attempt", type_=UtcDateTime())
    if outcome == "retry":
        gave_up = sends.c.attempts >= bindparam("record_max_attempts", type_=Integer)
        return (
            update(sends)
            .where(leased, sends.c.status == "sending")
            .values(
                status=case((gave_up, "failed"), else_="queued"),
                reason=case((gave_up, bindparam("record_gave_up", type_=String)), else_=reason),
                next_attempt_at=case((gave_up, None), else_=next_attempt),
                lease_owner=case((gave_up, sends.c.lease_owner), else_=None),
                lease_expires_at=None,
                updated_at=now,
            )
        )
    return (
        update(sends)
        .where(leased, sends.c.status == "sending")
        .values(
            status="unknown",
            reason=reason,
            next_attempt_at=next_attempt,
            lease_expires_at=None,
            updated_at=now,
        )
    )


def expire_leases(
    conn: Connection, campaign_id: int, now: datetime, reconcile_after: timedelta
) -> int:
    """Rows whose worker vanished (lease expired while `sending`) become `unknown`: the request
    may or may not have reached the provider. The lease owner stays, so that worker's late
    `sent` can still land."""
    return conn.execute(
        update(sends)
        .where(
            sends.c.campaign_id == campaign_id,
            sends.c.status == "sending",
            sends.c.lease_expires_at < now,
        )
        .values(
            status="unknown",
            reason="worker lease expired before an outcome was recorded",
            next_attempt_at=now + reconcile_after,
            lease_expires_at=None,
            updated_at=now,
        )
    ).rowcount


def reconcile_unknown(conn: Connection, campaign_id: int, now: datetime) -> tuple[int, int]:
    """Settle `unknown` rows: any provider event for a send (it carries the send id in
    custom_args) proves the provider accepted it, so it is `sent`; rows with no event once their
    reconciliation window has passed are re-queued. Returns (marked sent, re-queued)."""
    unknown = and_(sends.c.campaign_id == campaign_id, sends.c.status == "unknown")
    provider_saw_it = exists().where(events.c.send_id == sends.c.id)
    first_event = (
        select(func.min(events.c.occurred_at))
        .where(events.c.send_id == sends.c.id)
        .scalar_subquery()
    )
    confirmed = conn.execute(
        update(sends)
        .where(unknown, provider_saw_it)
        .values(
            status=status_once_accepted(sends.c.id),
            sent_at=func.coalesce(sends.c.sent_at, first_event),
            reason=None,
            next_attempt_at=None,
            updated_at=now,
        )
    ).rowcount
    requeued = conn.execute(
        update(sends)
        .where(unknown, sends.c.next_attempt_at <= now, ~provider_saw_it)
        .values(
            status="queued",
            lease_owner=None,
            next_attempt_at=None,
            reason="re-queued: no provider event within the reconciliation window",
            updated_at=now,
        )
    ).rowcount
    return confirmed, requeued


def _plain_sent(conn: Connection, send_ids: Sequence[int]) -> bool:
    """Whether sends the provider accepted can simply become `sent`: no event is stored for any
    of them (the usual case), so status_once_accepted has nothing to apply. Only looked at on
    SQLite, whose write transaction keeps the webhook from storing events meanwhile; one look at
    the events' index then saves four lookups per row."""
    if conn.dialect.name != "sqlite":
        return False
    any_event = exists().where(events.c.send_id.between(min(send_ids), max(send_ids)))
    return not conn.execute(select(any_event)).scalar_one()


def send_of_contact(
    conn: Connection, campaign_id: int, contact_id: int
) -> tuple[str, str | None] | None:
    """The status of the campaign's email to this contact and its reason, or None when the
    contact is not in the campaign's audience (unmailable when it started, or in no segment)."""
    row = conn.execute(
        select(sends.c.status, sends.c.reason).where(
            sends.c.campaign_id == campaign_id, sends.c.contact_id == contact_id
        )
    ).first()
    return None if row is None else (row.status, row.reason)
