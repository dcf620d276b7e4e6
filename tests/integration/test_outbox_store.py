"""The outbox's named queries on a real database (SQLite, then PostgreSQL): materialising an
audience, claiming under a lease, recording outcomes, expiring leases and reconciling."""

from datetime import date, timedelta

import pytest
from sqlalchemy import insert, select, update

from pipeline.models import Condition, Rule, Segment, SendResult, group_results
from pipeline.store import utcnow
from pipeline.store.outbox import finish_campaign_if_drained, load_rendered_variant, outbox_state
from pipeline.store.sends import (
    SKIPPED_REASON,
    ClaimedBatch,
    claim_batch,
    expire_leases,
    materialise_sends,
    reconcile_unknown,
    record_results,
)
from pipeline.store.tables import campaigns, contacts, events, sends
from tests.outbox_fakes import (
    add_campaign,
    add_contacts,
    add_variant,
    queue_everyone,
    set_state,
    statuses,
)

TODAY = date(2026, 11, 21)
HOUR = timedelta(hours=1)


def _segment(name: str, tag: str | None) -> Segment:
    rule = Rule("all", (Condition("tags", "contains", tag),)) if tag else None
    return Segment(name=name, label=name, code=f"c-{name}", sensitive=False, priority=1, rule=rule)


def _tags(n: int) -> str:
    return {0: ",runner,desk,", 1: ",runner,", 2: ",desk,", 3: ","}[n % 4]


def _variant_of(conn, campaign_id):
    from pipeline.store.tables import variants

    rows = conn.execute(
        select(contacts.c.email, variants.c.segment)
        .join(sends, sends.c.contact_id == contacts.c.id)
        .join(variants, variants.c.id == sends.c.variant_id)
        .where(sends.c.campaign_id == campaign_id)
    ).all()
    return dict(rows)


def test_materialise_gives_each_contact_the_variant_of_its_best_segment(engine):
    with engine.begin() as conn:
        add_contacts(conn, 8, tags=_tags, consent=lambda n: "none" if n == 7 else "subscribed")
        campaign = add_campaign(conn)
        desk, runner, general = (
            add_variant(conn, campaign, name) for name in ("desk", "runner", "general")
        )
        written = materialise_sends(
            conn,
            campaign,
            [(_segment("desk", "desk"), desk), (_segment("runner", "runner"), runner)],
            general,
            [],
            utcnow(),
            TODAY,
            weekly_cap=5,
        )
        assigned = _variant_of(conn, campaign)
        numbered = conn.execute(
            select(sends.c.variant_id, sends.c.id).where(sends.c.campaign_id == campaign)
        ).all()
    assert written == 7
    # Each variant's rows are numbered one after another, so a claimed batch is one run of ids.
    runs: dict[int, list[int]] = {}
    for variant_id, send_id in numbered:
        runs.setdefault(variant_id, []).append(send_id)
    for ids in runs.values():
        assert max(ids) - min(ids) + 1 == len(ids)
    assert assigned == {
        "person0@example.com": "desk",  # in both: desk is ranked first
        "person1@example.com": "runner",
        "person2@example.com": "desk",
        "person3@example.com": "general",
        "person4@example.com": "desk",
        "person5@example.com": "runner",
        "person6@example.com": "desk",
    }  # person7 has no consent: no row


def test_without_general_contacts_in_no_target_segment_get_no_row(engine):
    with engine.begin() as conn:
        add_contacts(conn, 4, tags=_tags)
        campaign = add_campaign(conn)
        runner = add_variant(conn, campaign, "runner")
        materialise_sends(
            conn,
            campaign,
            [(_segment("runner", "runner"), runner)],
            None,
            [],
            utcnow(),
            TODAY,
            weekly_cap=5,
        )
        assert set(_variant_of(conn, campaign)) == {"person0@example.com", "person1@example.com"}


def test_contacts_over_the_weekly_cap_are_recorded_as_skipped(engine):
    with engine.begin() as conn:
        add_contacts(conn, 3)
        earlier = add_campaign(conn, "earlier", state="sent")
        queue_everyone(conn, earlier, add_variant(conn, earlier, "general"))
        conn.execute(
            update(sends).where(sends.c.contact_id == 1).values(status="sent", sent_at=utcnow())
        )
        campaign = add_campaign(conn)
        general = add_variant(conn, campaign, "general")
        materialise_sends(conn, campaign, [], general, [], utcnow(), TODAY, weekly_cap=1)
        rows = conn.execute(
            select(sends.c.contact_id, sends.c.status, sends.c.reason)
            .where(sends.c.campaign_id == campaign)
            .order_by(sends.c.contact_id)
        ).all()
    assert [tuple(row) for row in rows] == [
        (1, "skipped", "weekly cap"),
        (2, "skipped", "weekly cap"),  # queued in another campaign counts too
        (3, "skipped", "weekly cap"),
    ]


def _campaign_with_sends(engine, count=5, segments=("general",)):
    with engine.begin() as conn:
        add_contacts(conn, count)
        campaign = add_campaign(conn)
        variant_ids = [add_variant(conn, campaign, name) for name in segments]
        queue_everyone(conn, campaign, variant_ids[0])
    return campaign, variant_ids


def test_a_claim_leases_up_to_the_limit_of_one_variant(engine):
    campaign, (general, other) = _campaign_with_sends(engine, 5, ("general", "desk"))
    with engine.begin() as conn:
        conn.execute(update(sends).where(sends.c.contact_id.in_([2, 4])).values(variant_id=other))
    now = utcnow()
    with engine.begin() as conn:
        first = claim_batch(conn, campaign, "w#1", now + HOUR, now, limit=2)
        second = claim_batch(conn, campaign, "w#2", now + HOUR, now, limit=10)
        third = claim_batch(conn, campaign, "w#3", now + HOUR, now, limit=10)
        fourth = claim_batch(conn, campaign, "w#4", now + HOUR, now, limit=10)
        leased = (
            conn.execute(select(sends.c.lease_owner).where(sends.c.status == "sending"))
            .scalars()
            .all()
        )
    assert _emails(first) == ["person0@example.com", "person2@example.com"]
    assert first.variant_id == general and first.attempts == 1
    assert _emails(second) == ["person4@example.com"]
    assert second.variant_id == general
    assert _emails(third) == ["person1@example.com", "person3@example.com"]
    assert third.variant_id == other
    assert fourth is None
    assert sorted(leased) == ["w#1", "w#1", "w#2", "w#3", "w#3"]


def test_two_overlapping_claims_take_every_due_row_whatever_order_the_table_keeps(engine):
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite takes the write lock at BEGIN IMMEDIATE, so claims never overlap")
    campaign, _ = _campaign_with_sends(engine, 250)
    with engine.begin() as conn:
        # Taking the lower rows out of the queue and back stores them after the others: the
        # table's order no longer follows the ids.
        lower = select(sends.c.id).order_by(sends.c.id).limit(150).scalar_subquery()
        conn.execute(update(sends).where(sends.c.id.in_(lower)).values(status="sending"))
        conn.execute(update(sends).where(sends.c.status == "sending").values(status="queued"))
    now = utcnow()
    with engine.begin() as first_conn, engine.begin() as second_conn:
        first = claim_batch(first_conn, campaign, "w#1", now + HOUR, now, limit=100)
        second = claim_batch(second_conn, campaign, "w#2", now + HOUR, now, limit=250)
    assert first is not None and second is not None
    assert (len(first.sends), len(second.sends)) == (100, 150)
    with engine.begin() as conn:
        assert claim_batch(conn, campaign, "w#3", now + HOUR, now, limit=250) is None


def test_a_claim_skips_contacts_no_longer_mailable_and_nothing_for_a_paused_campaign(engine):
    campaign, _ = _campaign_with_sends(engine, 3)
    with engine.begin() as conn:
        conn.execute(
            update(contacts).where(contacts.c.id == 2).values(consent_status="unsubscribed")
        )
        set_state(conn, campaign, "paused")
        now = utcnow()
        assert claim_batch(conn, campaign, "w#1", now + HOUR, now, limit=10) is None
        set_state(conn, campaign, "sending")
        batch = claim_batch(conn, campaign, "w#1", now + HOUR, now, limit=10)
        skipped = (
            conn.execute(select(sends.c.reason).where(sends.c.status == "skipped")).scalars().all()
        )
    assert _emails(batch) == ["person0@example.com", "person2@example.com"]
    assert batch.skipped == 1
    assert skipped == [SKIPPED_REASON]


def test_rows_backing_off_are_not_claimed_before_their_time(engine):
    campaign, _ = _campaign_with_sends(engine, 2)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            update(sends).where(sends.c.contact_id == 1).values(next_attempt_at=now + HOUR)
        )
        batch = claim_batch(conn, campaign, "w#1", now + HOUR, now, limit=10)
        later = claim_batch(conn, campaign, "w#2", now + 2 * HOUR, now + 2 * HOUR, limit=10)
    assert _emails(batch) == ["person1@example.com"]
    assert _emails(later) == ["person0@example.com"]


def _claim_all(engine, campaign, owner="w#1"):
    now = utcnow()
    with engine.begin() as conn:
        return claim_batch(conn, campaign, owner, now + HOUR, now, limit=100)


def _emails(batch: ClaimedBatch) -> list[str]:
    return [email for _, _, email, _ in batch.sends]


def _record(engine, owner, results, *, max_attempts=3, reconcile_after=HOUR):
    with engine.begin() as conn:
        return record_results(
            conn,
            owner,
            group_results(results),
            utcnow(),
            retry_delay=timedelta(seconds=30),
            reconcile_after=reconcile_after,
            max_attempts=max_attempts,
        )


def test_results_are_recorded_by_outcome(engine):
    campaign, _ = _campaign_with_sends(engine, 4)
    batch = _claim_all(engine, campaign)
    ids = batch.send_ids
    written = _record(
        engine,
        "w#1",
        [
            SendResult(ids[0], "sent", provider_message_id="m1"),
            SendResult(ids[1], "failed", reason="invalid address"),
            SendResult(ids[2], "retry", reason="429", retry_after=30),
            SendResult(ids[3], "unknown", reason="timeout"),
        ],
    )
    with engine.connect() as conn:
        rows = {row.id: row for row in conn.execute(select(sends).order_by(sends.c.id))}
    assert written == {"sent": 1, "failed": 1, "retry": 1, "unknown": 1}
    assert (rows[ids[0]].status, rows[ids[0]].provider_message_id) == ("sent", "m1")
    assert rows[ids[0]].sent_at is not None
    assert (rows[ids[1]].status, rows[ids[1]].reason) == ("failed", "invalid address")
    assert (rows[ids[2]].status, rows[ids[2]].lease_owner) == ("queued", None)
    assert rows[ids[2]].next_attempt_at > utcnow() + timedelta(seconds=20)
    assert rows[ids[3]].status == "unknown"
    assert rows[ids[3]].next_attempt_at > utcnow() + timedelta(minutes=50)


def test_retries_give_up_after_the_last_attempt(engine):
    campaign, _ = _campaign_with_sends(engine, 1)
    for attempt in range(1, 4):
        with engine.begin() as conn:
            conn.execute(update(sends).values(next_attempt_at=None))
        batch = _claim_all(engine, campaign, f"w#{attempt}")
        assert batch.attempts == attempt
        _record(engine, f"w#{attempt}", [SendResult(batch.send_ids[0], "retry", reason="503")])
    with engine.connect() as conn:
        row = conn.execute(select(sends)).one()
    assert row.status == "failed"
    assert row.reason == "gave up after 3 attempts: 503"


def test_a_stale_worker_cannot_overwrite_rows_leased_again(engine):
    campaign, _ = _campaign_with_sends(engine, 1)
    stale = _claim_all(engine, campaign, "old#1")
    with engine.begin() as conn:
        conn.execute(update(sends).values(status="queued", lease_owner=None))
    fresh = _claim_all(engine, campaign, "new#1")
    send_id = stale.send_ids[0]
    assert _record(engine, "old#1", [SendResult(send_id, "failed", reason="late")]) == {"failed": 0}
    assert _record(engine, "new#1", [SendResult(fresh.send_ids[0], "sent")]) == {"sent": 1}


def test_expired_leases_become_unknown_and_are_reconciled_from_events(engine):
    campaign, _ = _campaign_with_sends(engine, 3)
    now = utcnow()
    with engine.begin() as conn:
        batch = claim_batch(conn, campaign, "dead#1", now - timedelta(seconds=1), now, limit=10)
    ids = batch.send_ids
    with engine.begin() as conn:
        assert expire_leases(conn, campaign, now, reconcile_after=timedelta(minutes=10)) == 3
        conn.execute(
            insert(events),
            [
                {
                    "sg_event_id": f"ev{send_id}",
                    "send_id": send_id,
                    "campaign_id": campaign,
                    "event": "processed",
                    "occurred_at": now,
                    "machine_open": False,
                    "simulated": False,
                    "received_at": now,
                }
                for send_id in ids[:2]
            ],
        )
        assert reconcile_unknown(conn, campaign, now) == (2, 0)
        assert reconcile_unknown(conn, campaign, now + timedelta(minutes=11)) == (0, 1)
        assert statuses(conn, campaign) == {"sent": 2, "queued": 1}
        sent_at = conn.execute(select(sends.c.sent_at).where(sends.c.id == ids[0])).scalar_one()
    assert sent_at == now


def test_a_late_sent_from_a_worker_whose_lease_expired_still_lands(engine):
    campaign, _ = _campaign_with_sends(engine, 1)
    now = utcnow()
    with engine.begin() as conn:
        batch = claim_batch(conn, campaign, "slow#1", now - timedelta(seconds=1), now, limit=10)
        expire_leases(conn, campaign, now, reconcile_after=HOUR)
    assert _record(engine, "slow#1", [SendResult(batch.send_ids[0], "sent")]) == {"sent": 1}


def test_state_counts_and_finishing_the_campaign(engine):
    campaign, _ = _campaign_with_sends(engine, 2)
    batch = _claim_all(engine, campaign)
    with engine.begin() as conn:
        state = outbox_state(conn, campaign)
        assert (state.open, state.total, state.next_due_at) == (2, 2, None)
        assert state.campaign_state == "sending"
        assert not finish_campaign_if_drained(conn, campaign, utcnow())
    _record(engine, "w#1", [SendResult(send_id, "sent") for send_id in batch.send_ids])
    with engine.begin() as conn:
        assert finish_campaign_if_drained(conn, campaign, utcnow())
        assert conn.execute(select(campaigns.c.state)).scalar_one() == "sent"


def test_a_stored_variant_comes_back_as_rendered(engine):
    with engine.begin() as conn:
        campaign = add_campaign(conn, "autumn")
        variant_id = add_variant(conn, campaign, "desk", "d1")
        rendered = load_rendered_variant(conn, variant_id)
    assert (rendered.campaign, rendered.segment, rendered.segment_code) == ("autumn", "desk", "d1")
    assert rendered.html_tokens["first_name"] in rendered.html
    assert (rendered.campaign_id, rendered.variant_id) == (campaign, variant_id)


def _store_event(conn, campaign, send_id, event_name, now):
    conn.execute(
        insert(events).values(
            sg_event_id=f"{event_name}-{send_id}",
            send_id=send_id,
            campaign_id=campaign,
            event=event_name,
            occurred_at=now,
            machine_open=False,
            simulated=False,
            received_at=now,
        )
    )


def test_events_that_overtake_the_http_answer_decide_the_recorded_status(engine):
    # SendGrid can post `delivered` (or a bounce) before the worker hears its 202; the webhook
    # leaves leased rows alone, so recording the send must not bury those events under `sent`.
    campaign, _ = _campaign_with_sends(engine, 4)
    batch = _claim_all(engine, campaign)
    ids = batch.send_ids
    now = utcnow()
    with engine.begin() as conn:
        _store_event(conn, campaign, ids[0], "delivered", now)
        _store_event(conn, campaign, ids[1], "delivered", now)
        _store_event(conn, campaign, ids[1], "bounce", now)
        _store_event(conn, campaign, ids[2], "processed", now)
    assert _record(engine, "w#1", [SendResult(i, "sent") for i in ids]) == {"sent": 4}
    with engine.connect() as conn:
        status = dict(conn.execute(select(sends.c.id, sends.c.status)).all())
    assert [status[i] for i in ids] == ["delivered", "bounced", "sent", "sent"]


def test_reconciling_an_unknown_send_applies_its_delivery_events(engine):
    campaign, _ = _campaign_with_sends(engine, 1)
    now = utcnow()
    with engine.begin() as conn:
        batch = claim_batch(conn, campaign, "dead#1", now - timedelta(seconds=1), now, limit=10)
        send_id = batch.send_ids[0]
        _store_event(conn, campaign, send_id, "processed", now)
        _store_event(conn, campaign, send_id, "delivered", now)
        expire_leases(conn, campaign, now, reconcile_after=HOUR)
        assert reconcile_unknown(conn, campaign, now) == (1, 0)
        assert statuses(conn, campaign) == {"delivered": 1}
