"""The weekly report's window is the clinic's local week its title names, across a DST change:
tables and chart count the same days, segments appear by their labels, and bookings and
revenue are added once a bookings file is imported."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.bookings.importer import import_bookings
from pipeline.config import load_settings
from pipeline.models import Event
from pipeline.report import build_weekly_report, render_report, report_context
from pipeline.store import open_engine
from pipeline.store.bookings import AttributionKey
from pipeline.store.events import record_events
from tests.tracking_support import add_campaign, add_contact, add_send

BOOKING = "https://harbourside-clinic.example/book"
# London's clocks go back at 01:00 UTC on Sunday 25 October 2026: the week of Monday 19 to
# Sunday 25 October runs from 18 Oct 23:00 UTC (BST) to 26 Oct 00:00 UTC (GMT).
MOMENTS = {
    "before": datetime(2026, 10, 18, 22, 30, tzinfo=UTC),  # Sun 18 Oct 23:30 BST
    "first": datetime(2026, 10, 18, 23, 30, tzinfo=UTC),  # Mon 19 Oct 00:30 BST
    "last": datetime(2026, 10, 25, 23, 30, tzinfo=UTC),  # Sun 25 Oct 23:30 GMT
    "after": datetime(2026, 10, 26, 0, 30, tzinfo=UTC),  # Mon 26 Oct 00:30 GMT
}
TUESDAY_AFTER = datetime(2026, 10, 27, 9, 0, tzinfo=UTC)


@pytest.fixture
def clinic(workspace_db):
    settings = load_settings(workspace_db)
    engine = open_engine(settings.database_url)
    with engine.begin() as conn:
        scenario = add_campaign(conn, started_at=MOMENTS["before"])
        batch = []
        for name, moment in MOMENTS.items():
            segment = "athletes" if name in ("before", "first") else "desk_workers"
            contact = add_contact(conn, f"{name}@example.com")
            send = add_send(conn, scenario, contact, segment, sent_at=moment)
            batch += [
                Event(f"d-{name}", "delivered", moment, send),
                Event(f"c-{name}", "click", moment, send, url=BOOKING),
            ]
        record_events(
            conn, batch, zone=settings.clinic.zone, booking_url=BOOKING, received_at=moment
        )
    yield engine, settings
    engine.dispose()


def test_tables_and_chart_count_the_same_local_week(clinic):
    engine, settings = clinic
    report = build_weekly_report(engine, settings, now=TUESDAY_AFTER)
    assert report.subject == "Weekly report: 19 Oct – 25 Oct 2026"
    totals = report.figures.total.counts
    assert (totals.sent, totals.delivered, totals.booking_clicks) == (2, 2, 2)
    assert (report.days[0].day.isoformat(), len(report.days)) == ("2026-10-19", 7)
    assert sum(day.counts["delivered"] for day in report.days) == totals.delivered
    assert sum(day.counts["booking_clicks"] for day in report.days) == totals.booking_clicks
    [campaign] = report.figures.campaigns
    assert campaign.total.counts.booking_clicks == 2


def test_segments_by_label_and_bookings_unknown_until_imported(clinic, tmp_path):
    engine, settings = clinic
    context = report_context(build_weekly_report(engine, settings, now=TUESDAY_AFTER), settings, "")
    assert [row["label"] for row in context["segments"]] == [
        "Athletes and active clients", "Desk workers",
    ]  # fmt: skip
    assert "Bookings" not in context["columns"]
    assert context["bookings_note"] == "Bookings: no bookings imported."
    html, text = render_report(
        build_weekly_report(engine, settings, now=TUESDAY_AFTER), settings, ""
    )
    assert "desk_workers" not in html and "desk_workers" not in text
    assert "no bookings imported" in html

    appointments = tmp_path / "appointments.csv"
    appointments.write_text(
        "Email,Start,Price,Booked At,Status\n"
        "first@example.com,2026-10-20 10:00,40,2026-10-19 09:00,booked\n"
        "last@example.com,2026-10-28 10:00,55,2026-10-26 00:10,booked\n"
    )
    import_bookings(
        engine, appointments, zone=settings.clinic.zone, attribution=AttributionKey("last_click", 7)
    )
    context = report_context(build_weekly_report(engine, settings, now=TUESDAY_AFTER), settings, "")
    assert context["columns"][-2:] == ["Bookings", "Revenue"]
    # Only the booking made within the week counts in it (the other was made on the 26th).
    assert context["totals"][-2:] == ["1", "40.00"]
    assert {"label": "Revenue", "value": "40.00"} in context["glance"]
