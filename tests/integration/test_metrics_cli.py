"""`clinicmail campaign status` and `clinicmail metrics` through click's CliRunner, on SQLite and
PostgreSQL: exit codes, exact JSON shapes, and the tables staff read."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from pipeline.config import load_settings
from pipeline.models import METRIC_NAMES, Event
from pipeline.store import open_engine, utcnow
from pipeline.store.events import record_events
from tests.tracking_support import add_campaign, add_contact, add_send

BOOKING = "https://harbourside-clinic.example/book"


def _run(workspace, *args):
    return CliRunner().invoke(main, ["--workspace", str(workspace), *args])


@pytest.fixture
def started(workspace_db):
    settings = load_settings(workspace_db)
    engine = open_engine(settings.database_url)
    now = utcnow()
    with engine.begin() as conn:
        scenario = add_campaign(conn, scheduled_for=datetime(2026, 6, 1, 8, 0, tzinfo=UTC))
        ana = add_contact(conn, "ana@example.com")
        ben = add_contact(conn, "ben@example.com")
        ana_send = add_send(conn, scenario, ana, "athletes")
        add_send(conn, scenario, ben, "desk_workers", status="queued")
        record_events(
            conn,
            [
                Event("d-1", "delivered", now - timedelta(minutes=5), ana_send),
                Event("o-1", "open", now - timedelta(minutes=4), ana_send),
                Event("c-1", "click", now - timedelta(minutes=3), ana_send, url=BOOKING),
            ],
            zone=settings.clinic.zone,
            booking_url=BOOKING,
            received_at=now,
        )
    engine.dispose()
    return workspace_db


def test_campaign_status_json_has_the_exact_shape(started):
    result = _run(started, "campaign", "status", "spring-back-care", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == ["campaign", "state", "scheduled_for", "segments", "totals"]
    assert document["scheduled_for"] == "2026-06-01T08:00:00+00:00"
    assert [segment["segment"] for segment in document["segments"]] == [
        "athletes",
        "desk_workers",
    ]
    added = ["open_rate", "click_rate", "booking_click_rate", "unsubscribe_rate",
             "complaint_rate", "bounce_rate", "bookings_imported", "bookings", "cancelled",
             "no_shows", "new_clients", "returning_clients", "revenue",
             "bookings_per_1000_delivered"]  # fmt: skip
    for segment in document["segments"]:
        assert list(segment) == ["segment", *METRIC_NAMES, *added]
    assert list(document["totals"]) == [*METRIC_NAMES, *added]
    # No bookings file imported: booking figures are unknown, never 0.
    assert document["totals"]["bookings_imported"] is False
    assert document["totals"]["bookings"] is None and document["totals"]["revenue"] is None
    assert document["totals"]["click_rate"] == 1.0
    athletes = document["segments"][0]
    assert (athletes["sent"], athletes["delivered"], athletes["opens"]) == (1, 1, 1)
    assert (athletes["clicks"], athletes["booking_clicks"]) == (1, 1)
    assert document["totals"]["audience"] == 2
    assert document["totals"]["queued"] == 1


def test_campaign_status_table_names_segments_and_rates(started):
    result = _run(started, "campaign", "status", "spring-back-care")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("spring-back-care (Spring back care): sending")
    lines = result.stdout.splitlines()
    assert any(line.startswith("athletes ") and "100.0%" in line for line in lines)
    assert any(line.startswith("total ") for line in lines)
    assert "simulated" not in result.stdout


def test_an_unknown_campaign_is_one_line_and_exit_1(started):
    result = _run(started, "campaign", "status", "nope", "--json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "no campaign 'nope'" in result.stderr


def test_metrics_json_has_the_overview_and_a_day_per_day(started):
    result = _run(started, "metrics", "--days", "7", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document) == [
        "since", "days", "simulated", "segments", "totals", "campaigns", "daily",
    ]  # fmt: skip
    assert document["days"] == 7
    assert document["simulated"] is False
    assert len(document["daily"]) == 7
    assert sum(day["delivered"] for day in document["daily"]) == 1
    assert document["totals"]["booking_clicks"] == 1
    assert [campaign["campaign"] for campaign in document["campaigns"]] == ["spring-back-care"]
    assert {segment["segment"] for segment in document["segments"]} == {"athletes", "desk_workers"}


def test_metrics_table(started):
    result = _run(started, "metrics")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Last 30 day(s), since ")
    assert "spring-back-care" in result.stdout


def test_metrics_refuses_a_days_value_out_of_range(started):
    result = _run(started, "metrics", "--days", "0")
    assert result.exit_code == 2
    assert "--days" in result.stderr
