"""Campaign metrics on a hand-built scenario, on SQLite and PostgreSQL: every figure per segment
and in total, deduplication, the daily series in the clinic's timezone, and the overview."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from pipeline.errors import NotFoundError
from pipeline.metrics import (
    campaign_document,
    campaign_metrics,
    daily_series,
    overview,
    segment_daily_series,
    top_links,
)
from pipeline.models import METRIC_NAMES, Event, MetricCounts
from pipeline.store.events import record_events
from tests.tracking_support import add_campaign, add_contact, add_send

LONDON = ZoneInfo("Europe/London")
BOOKING = "https://harbourside-clinic.example/book"
# 23:30 UTC on 1 June is 00:30 on 2 June in London (BST).
LATE = datetime(2026, 6, 1, 23, 30, tzinfo=UTC)
EARLY = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _event(kind: str, send_id: int, number: int, at: datetime = EARLY, **fields) -> Event:
    return Event(
        sg_event_id=f"{kind}-{send_id}-{number}",
        event=kind,
        occurred_at=at,
        send_id=send_id,
        **fields,
    )


def _ingest(engine, batch: list[Event]) -> None:
    with engine.begin() as conn:
        record_events(conn, batch, zone=LONDON, booking_url=BOOKING, received_at=EARLY)


@pytest.fixture
def campaign(engine):
    with engine.begin() as conn:
        start = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
        scenario = add_campaign(conn, scheduled_for=start, started_at=start)
        plan = {
            "athletes": ["sent", "sent", "sent", "failed", "skipped", "queued", "unknown"],
            "desk_workers": ["sent", "sent", "sent"],
        }
        for segment, statuses in plan.items():
            for number, status in enumerate(statuses, start=1):
                name = f"{segment[0]}{number}"
                contact_id = add_contact(conn, f"{name}@example.com")
                scenario.contact_ids[name] = contact_id
                scenario.send_ids[name] = add_send(conn, scenario, contact_id, segment, status)
    ids = scenario.send_ids
    batch = [
        _event("processed", ids["a1"], 1),
        _event("delivered", ids["a1"], 1),
        _event("open", ids["a1"], 1),
        _event("open", ids["a1"], 2, at=LATE),
        _event("click", ids["a1"], 1, url=f"{BOOKING}?utm_source=clinicmail&utm_campaign=x"),
        _event("click", ids["a1"], 2, url="https://harbourside-clinic.example/blog/legs"),
        _event("delivered", ids["a2"], 1),
        _event("open", ids["a2"], 1, machine_open=True),
        _event("click", ids["a2"], 1, url="https://harbourside-clinic.example/blog/legs"),
        _event("bounce", ids["a3"], 1, bounce_type="bounce", reason="550 5.1.1"),
        _event("delivered", ids["d1"], 1),
        _event("open", ids["d1"], 1, at=LATE),
        _event("open", ids["d1"], 2, machine_open=True),
        _event("spamreport", ids["d1"], 1),
        _event("delivered", ids["d2"], 1),
        _event("unsubscribe", ids["d2"], 1),
        _event("dropped", ids["d3"], 1, reason="Invalid"),
    ]
    _ingest(engine, batch[:9])
    _ingest(engine, batch[9:])
    return scenario, batch


ATHLETES = MetricCounts(
    audience=7, queued=1, sent=3, delivered=2, bounced=1, dropped=0, opens=1, machine_opens=1,
    clicks=2, booking_clicks=1, unsubscribes=0, complaints=0, failed=1, skipped=1, unknown=1,
)  # fmt: skip
DESK_WORKERS = MetricCounts(
    audience=3, queued=0, sent=3, delivered=2, bounced=0, dropped=1, opens=1, machine_opens=1,
    clicks=0, booking_clicks=0, unsubscribes=1, complaints=1, failed=0, skipped=0, unknown=0,
)  # fmt: skip


def test_every_figure_per_segment_and_in_total(engine, campaign):
    with engine.connect() as conn:
        metrics = campaign_metrics(conn, "spring-back-care")
    assert [(s.segment, s.code) for s in metrics.segments] == [
        ("athletes", "s1a7"),
        ("desk_workers", "s3q8"),
    ]
    assert metrics.segments[0].counts == ATHLETES
    assert metrics.segments[1].counts == DESK_WORKERS
    assert metrics.totals.as_dict() == {
        name: ATHLETES.as_dict()[name] + DESK_WORKERS.as_dict()[name] for name in METRIC_NAMES
    }
    assert metrics.segments[0].counts.click_rate == 1.0
    assert metrics.segments[1].counts.click_to_open_rate == 0.0
    assert metrics.totals.click_rate == 0.5
    assert metrics.simulated is False


def test_a_redelivered_batch_changes_no_figure(engine, campaign):
    _, batch = campaign
    _ingest(engine, batch)
    with engine.connect() as conn:
        metrics = campaign_metrics(conn, "spring-back-care")
    assert (metrics.segments[0].counts, metrics.segments[1].counts) == (ATHLETES, DESK_WORKERS)


def test_the_status_document_has_the_agreed_shape(engine, campaign):
    with engine.connect() as conn:
        document = campaign_document(campaign_metrics(conn, "spring-back-care"))
    assert list(document) == ["campaign", "state", "scheduled_for", "segments", "totals"]
    assert document["campaign"] == "spring-back-care"
    assert document["state"] == "sending"
    assert document["scheduled_for"] == "2026-06-01T08:00:00+00:00"
    # The existing keys first and unchanged; rates and booking figures follow them.
    width = len(METRIC_NAMES) + 1
    assert [list(segment)[:width] for segment in document["segments"]] == [
        ["segment", *METRIC_NAMES],
        ["segment", *METRIC_NAMES],
    ]
    assert list(document["totals"])[: width - 1] == list(METRIC_NAMES)


def test_the_daily_series_uses_the_clinics_days(engine, campaign):
    with engine.connect() as conn:
        series = daily_series(conn, "spring-back-care", 3, today=date(2026, 6, 2))
    assert [day.day for day in series] == [date(2026, 5, 31), date(2026, 6, 1), date(2026, 6, 2)]
    assert series[0].counts["delivered"] == 0
    assert series[1].counts["delivered"] == 4
    # a1's first open was on 1 June; d1's first human open came at 00:30 on 2 June, local time.
    assert (series[1].counts["opens"], series[2].counts["opens"]) == (1, 1)
    assert series[1].counts["processed"] == 1
    assert sum(day.counts["clicks"] for day in series) == 2


def test_simulated_events_are_flagged(engine, campaign):
    scenario, _ = campaign
    _ingest(engine, [_event("click", scenario.send_ids["d2"], 9, url=BOOKING, simulated=True)])
    with engine.connect() as conn:
        metrics = campaign_metrics(conn, "spring-back-care")
        summary = overview(conn, date(2026, 5, 1), zone=LONDON)
    assert metrics.simulated is True
    assert metrics.segments[1].counts.booking_clicks == 1
    assert summary.simulated is True


def test_the_overview_sums_segments_across_campaigns(engine, campaign):
    with engine.connect() as conn:
        summary = overview(conn, date(2026, 5, 1), zone=LONDON)
        later = overview(conn, date(2026, 6, 2), zone=LONDON)
    by_segment = {segment.segment: segment.counts for segment in summary.segments}
    assert by_segment == {"athletes": ATHLETES, "desk_workers": DESK_WORKERS}
    assert [c.campaign for c in summary.campaigns] == ["spring-back-care"]
    assert summary.simulated is False
    # From 2 June: the campaign started before, but d1's first human open counts that day.
    assert later.totals.opens == 1
    assert later.totals.audience == 0


def test_an_unknown_campaign_is_named(engine):
    with engine.connect() as conn, pytest.raises(NotFoundError, match="no campaign 'nope'"):
        campaign_metrics(conn, "nope")


def test_a_status_metrics_does_not_know_still_counts_in_the_audience(engine, campaign):
    scenario, _ = campaign
    with engine.begin() as conn:
        contact_id = add_contact(conn, "new@example.com")
        add_send(conn, scenario, contact_id, "desk_workers", status="held")
    with engine.connect() as conn:
        counts = campaign_metrics(conn, "spring-back-care").segments[1].counts
    assert counts.audience == DESK_WORKERS.audience + 1
    assert counts.as_dict() | {"audience": DESK_WORKERS.audience} == DESK_WORKERS.as_dict()


def test_daily_series_per_segment(engine, campaign):
    with engine.connect() as conn:
        series = segment_daily_series(conn, 2, today=date(2026, 6, 2))
    assert list(series) == ["athletes", "desk_workers"]
    athletes, desk = series["athletes"], series["desk_workers"]
    assert [day.day for day in athletes] == [date(2026, 6, 1), date(2026, 6, 2)]
    assert (athletes[0].counts["opens"], athletes[1].counts["opens"]) == (1, 0)
    assert (desk[0].counts["opens"], desk[1].counts["opens"]) == (0, 1)
    assert desk[0].counts["complaints"] == 1


def test_top_links_count_sends_per_link_without_query(engine, campaign):
    scenario, _ = campaign
    blog = "https://harbourside-clinic.example/blog/legs"
    _ingest(
        engine,
        [
            _event("click", scenario.send_ids["a1"], 7, url=blog + "?utm_source=clinicmail"),
            _event("click", scenario.send_ids["d1"], 7, url=blog + "#part-2"),
            _event("click", scenario.send_ids["d2"], 7, url=BOOKING + "?utm_campaign=x"),
        ],
    )
    with engine.connect() as conn:
        links = top_links(conn, "spring-back-care")
        first = top_links(conn, "spring-back-care", limit=1)
    assert links == [(blog, 3), (BOOKING, 2)]
    assert first == [(blog, 3)]
