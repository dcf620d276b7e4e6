"""Draining the outbox on a real database (SQLite, then PostgreSQL) with a recording Backend:
every recipient handed off exactly once through retries, ambiguous outcomes, crashes,
unsubscribes, pauses and two workers sharing one campaign."""

import itertools
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from pipeline.errors import DeliveryError
from pipeline.outbox import drain_outbox
from pipeline.store import open_engine, utcnow
from pipeline.store.contacts import unsubscribe_contact
from pipeline.store.events import record_unsubscribe
from pipeline.store.tables import campaigns, sends
from tests.outbox_fakes import (
    Failure,
    RecordingBackend,
    add_campaign,
    add_contacts,
    add_variant,
    outbox_settings,
    queue_everyone,
    record_processed_events,
    set_state,
    statuses,
)


@pytest.fixture
def settings(workspace, database_url, monkeypatch):
    monkeypatch.setenv("CLINICMAIL_DATABASE_URL", database_url)
    return outbox_settings(workspace, batch_size=100, concurrency=1, reconcile_after_seconds=3600)


def _with(settings, **delivery):
    return settings.model_copy(update={"delivery": settings.delivery.model_copy(update=delivery)})


def _campaign(engine, contacts=250, slug="spring"):
    with engine.begin() as conn:
        add_contacts(conn, contacts)
        campaign = add_campaign(conn, slug)
        queue_everyone(conn, campaign, add_variant(conn, campaign, "general"))
    return campaign


def _state(engine, campaign):
    with engine.connect() as conn:
        return conn.execute(select(campaigns.c.state).where(campaigns.c.id == campaign)).scalar()


def test_every_recipient_is_handed_off_once_and_the_campaign_is_sent(engine, settings):
    campaign = _campaign(engine, 250)
    backend = RecordingBackend()
    report = drain_outbox(engine, _with(settings, concurrency=3), backend, campaign)
    assert len(backend.delivered) == 250 and backend.duplicates() == []
    assert (report.sent, report.handed_off) == (250, 250)
    if engine.dialect.name == "sqlite":
        assert report.batches == 3
    else:
        # Claims in flight together share the rows left when the first of them runs out: two
        # full batches, then the last 50 rows split among at most the three threads' claims.
        assert 3 <= report.batches <= 2 + 3
    assert report.finished == [campaign]
    with engine.connect() as conn:
        assert statuses(conn, campaign) == {"sent": 250}
    assert _state(engine, campaign) == "sent"


def test_retryable_failures_back_off_and_still_deliver_once(engine, settings):
    campaign = _campaign(engine, 250)
    backend = RecordingBackend()
    backend.fail_next(Failure("retry", reason="SendGrid answered 429", retry_after=0), times=2)
    backend.fail_next(Failure("retry", reason="SendGrid answered 503", retry_after=0.2))
    report = drain_outbox(engine, _with(settings, concurrency=3), backend, campaign)
    assert len(backend.delivered) == 250 and backend.duplicates() == []
    # Three failed batches, whichever rows they held; every hand-off was retried or sent.
    assert report.sent == 250 and report.retried + report.sent == report.handed_off
    assert report.batches >= 6
    with engine.connect() as conn:
        attempts = conn.execute(select(sends.c.attempts)).scalars().all()
    assert max(attempts) >= 2


def test_retries_without_retry_after_back_off_exponentially(engine, settings):
    campaign = _campaign(engine, 10)
    backend = RecordingBackend()
    backend.fail_next(Failure("retry", retry_after=None))
    stop = threading.Event()
    before = utcnow()
    report = drain_outbox(engine, settings, backend, campaign, stop=stop, wait_for_unknown=False)
    assert report.retried == 10 and len(backend.delivered) == 10
    with engine.connect() as conn:
        assert statuses(conn, campaign) == {"sent": 10}
        sent_at = conn.execute(select(sends.c.sent_at)).scalars().all()
    assert min(sent_at) - before >= timedelta(seconds=2)


def test_permanent_failures_are_recorded_with_the_reason(engine, settings):
    campaign = _campaign(engine, 150)
    backend = RecordingBackend()
    backend.fail_next(Failure("failed", reason="SendGrid 400: invalid address"))
    report = drain_outbox(engine, settings, backend, campaign)
    assert report.failed == 100 and report.sent == 50
    with engine.connect() as conn:
        reasons = set(
            conn.execute(select(sends.c.reason).where(sends.c.status == "failed")).scalars()
        )
    assert reasons == {"SendGrid 400: invalid address"}
    assert _state(engine, campaign) == "sent"


def test_an_ambiguous_send_the_provider_took_is_reconciled_not_resent(engine, settings):
    campaign = _campaign(engine, 150)
    settings = _with(settings, reconcile_after_seconds=1)
    backend = RecordingBackend(
        on_accepted=lambda ids: record_processed_events(engine, settings, ids)
    )
    backend.fail_next(Failure("unknown", accepted=True, reason="timed out"))
    report = drain_outbox(engine, settings, backend, campaign, wait_for_unknown=True)
    assert len(backend.delivered) == 150 and backend.duplicates() == []
    assert report.unknown == 100 and report.reconciled_sent == 100
    with engine.connect() as conn:
        assert statuses(conn, campaign) == {"sent": 150}


def test_an_ambiguous_send_with_no_provider_event_is_requeued_after_the_window(engine, settings):
    campaign = _campaign(engine, 150)
    settings = _with(settings, reconcile_after_seconds=1)
    backend = RecordingBackend()
    backend.fail_next(Failure("unknown", accepted=False, reason="connection dropped"))
    first = drain_outbox(engine, settings, backend, campaign)
    assert first.awaiting_reconciliation == 100 and first.finished == []
    assert _state(engine, campaign) == "sending"
    second = drain_outbox(engine, settings, backend, campaign, wait_for_unknown=True)
    assert second.requeued == 100
    assert len(backend.delivered) == 150 and backend.duplicates() == []
    assert _state(engine, campaign) == "sent"


def test_a_crash_inside_the_backend_leaves_the_batch_unknown(engine, settings):
    campaign = _campaign(engine, 50)
    backend = RecordingBackend()
    backend.fail_next(Failure("raise"))
    with pytest.raises(ConnectionResetError):
        drain_outbox(engine, settings, backend, campaign)
    with engine.connect() as conn:
        assert statuses(conn, campaign) == {"unknown": 50}


def test_a_backend_that_cannot_send_at_all_stops_the_drain_and_keeps_the_queue(engine, settings):
    campaign = _campaign(engine, 50)
    backend = RecordingBackend()
    backend.fail_next(Failure("refuse"))
    stop = threading.Event()
    with pytest.raises(DeliveryError, match="401"):
        drain_outbox(engine, settings, backend, campaign, stop=stop)
    assert not stop.is_set()  # a worker process's own stop signal is not the drain's to set
    with engine.connect() as conn:
        assert statuses(conn, campaign) == {"queued": 50}
    assert drain_outbox(engine, settings, backend, campaign).sent == 50


def test_an_unsubscribe_mid_campaign_stops_that_contacts_queued_send(engine, settings):
    campaign = _campaign(engine, 250)
    unsubscribed = False

    def unsubscribe_two(recipients):
        nonlocal unsubscribed
        if unsubscribed:
            return
        unsubscribed = True
        now = utcnow()
        with engine.begin() as conn:
            # Through the public unsubscribe path (queued sends skipped at once) ...
            record_unsubscribe(conn, 200, None, source="link", now=now, zone=settings.clinic.zone)
            # ... and consent withdrawn with the row left queued: the claim re-check stops it.
            unsubscribe_contact(conn, 220, "import", now)

    backend = RecordingBackend(on_batch=unsubscribe_two)
    report = drain_outbox(engine, settings, backend, campaign)
    delivered = {email for _, email, _ in backend.delivered}
    assert "person199@example.com" not in delivered
    assert "person219@example.com" not in delivered
    assert len(delivered) == 248 and backend.duplicates() == []
    assert report.skipped == 1
    with engine.connect() as conn:
        assert statuses(conn, campaign) == {"sent": 248, "skipped": 2}


def test_pausing_the_campaign_stops_claims(engine, settings):
    campaign = _campaign(engine, 250)

    def pause(recipients):
        with engine.begin() as conn:
            set_state(conn, campaign, "paused")

    backend = RecordingBackend(on_batch=pause)
    report = drain_outbox(engine, settings, backend, campaign)
    assert report.sent == 100
    with engine.connect() as conn:
        assert statuses(conn, campaign) == {"sent": 100, "queued": 150}
    assert _state(engine, campaign) == "paused"


def test_a_closure_day_holds_the_drain(engine, settings):
    today = utcnow().astimezone(settings.clinic.zone).date()
    settings = settings.model_copy(
        update={
            "sending": settings.sending.model_copy(
                update={"closure_dates": (today, today + timedelta(days=1))}
            )
        }
    )
    campaign = _campaign(engine, 20)
    backend = RecordingBackend()
    report = drain_outbox(engine, settings, backend, campaign)
    assert backend.calls == 0 and report.held_until is not None
    assert report.held_until > utcnow() + timedelta(hours=20)
    with engine.connect() as conn:
        assert statuses(conn, campaign) == {"queued": 20}


def test_without_a_campaign_id_every_sending_campaign_is_drained(engine, settings):
    first = _campaign(engine, 30, "one")
    with engine.begin() as conn:
        add_contacts(conn, 20, start=30)
        second = add_campaign(conn, "two")
        queue_everyone(conn, second, add_variant(conn, second, "general"))
    backend = RecordingBackend()
    report = drain_outbox(engine, settings, backend)
    assert sorted(report.finished) == [first, second]
    assert len(backend.delivered) == 30 + 50


def test_two_workers_with_their_own_connections_share_a_campaign(engine, settings, database_url):
    campaign = _campaign(engine, 2000)
    settings = _with(settings, batch_size=50, concurrency=1)
    # Each worker's first batch waits at the barrier until the other worker has claimed one too,
    # so both are holding leases at the same moment.
    both_claimed = threading.Barrier(2, timeout=60)
    calls = itertools.count()

    def meet_the_other_worker(recipients):
        if next(calls) < 2:
            both_claimed.wait()

    backend = RecordingBackend(on_batch=meet_the_other_worker)
    engines = [open_engine(database_url) for _ in range(2)]
    reports = {}

    def work(name, own_engine):
        reports[name] = drain_outbox(own_engine, settings, backend, campaign, worker_id=name)

    threads = [
        threading.Thread(target=work, args=(f"worker-{n}", own)) for n, own in enumerate(engines)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for own in engines:
        own.dispose()
    assert len(backend.delivered) == 2000 and backend.duplicates() == []
    assert reports["worker-0"].handed_off + reports["worker-1"].handed_off == 2000
    with engine.connect() as conn:
        owners = set(conn.execute(select(sends.c.lease_owner)).scalars())
    assert {owner.split("#")[0] for owner in owners} == {"worker-0", "worker-1"}
