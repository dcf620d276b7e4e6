"""Pure pieces of bookings and the owner's figures: reading an export's cells (times in the
clinic's zone, money, statuses), rates that say what they are out of, health thresholds, and
booking figures that are unknown (never 0) before any import."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from pipeline.bookings.columns import parse_local_datetime, parse_money_cents, parse_status
from pipeline.bookings.figures import booking_figures, rates
from pipeline.bookings.importer import booking_key
from pipeline.comparison import health_flags
from pipeline.contacts.normalise import InvalidValue
from pipeline.models import BookingSums, MetricCounts

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("2026-06-05T09:00:00Z", datetime(2026, 6, 5, 9, 0, tzinfo=UTC)),
        ("2026-06-05 10:00", datetime(2026, 6, 5, 9, 0, tzinfo=UTC)),  # BST
        ("05/06/2026 10:00", datetime(2026, 6, 5, 9, 0, tzinfo=UTC)),
        ("05/12/2026 2:30 pm", datetime(2026, 12, 5, 14, 30, tzinfo=UTC)),  # GMT
        ("05/12/2026, 12:05 am", datetime(2026, 12, 5, 0, 5, tzinfo=UTC)),
        ("2026-06-05T10:00:00+02:00", datetime(2026, 6, 5, 8, 0, tzinfo=UTC)),
        ("05/06/2026", datetime(2026, 6, 4, 23, 0, tzinfo=UTC)),
    ],
)
def test_times_without_an_offset_are_the_clinics(cell, expected):
    assert parse_local_datetime(cell, LONDON, day_first=True) == expected


@pytest.mark.parametrize("cell", ["", "tomorrow", "05/06/2026 25:00", "05/06/2026 at noon"])
def test_bad_times_say_what_is_wrong(cell):
    with pytest.raises(InvalidValue):
        parse_local_datetime(cell, LONDON, day_first=True)


@pytest.mark.parametrize(
    ("cell", "cents"),
    [("45", 4500), ("£45.00", 4500), ("45,50 €", 4550), ("1,250.00", 125000), ("", 0),
     ("$ 60", 6000)],
)  # fmt: skip
def test_money(cell, cents):
    assert parse_money_cents(cell) == cents


@pytest.mark.parametrize("cell", ["free", "-5", "4.5.6"])
def test_bad_money(cell):
    with pytest.raises(InvalidValue):
        parse_money_cents(cell)


@pytest.mark.parametrize(
    ("cell", "status"),
    [("Booked", "booked"), ("Completed", "booked"), ("Late cancel", "cancelled"),
     ("Canceled", "cancelled"), ("No-show", "no_show"), ("DNA", "no_show"),
     ("did not attend", "no_show")],
)  # fmt: skip
def test_statuses_as_booking_systems_write_them(cell, status):
    assert parse_status(cell) == status


def test_an_appointment_is_known_by_its_id_else_by_email_start_and_service():
    start = datetime(2026, 6, 5, 9, 0, tzinfo=UTC)
    assert booking_key("A-1", "x@example.com", start, "Massage") == "id:A-1"
    assert booking_key(None, "X@Example.com", start, " Massage ") == booking_key(
        None, "x@example.com", start, "massage"
    )


def test_rates_are_fractions_of_what_they_say_and_none_without_a_base():
    counts = MetricCounts(delivered=1000, bounced=25, opens=400, clicks=50, booking_clicks=20,
                          unsubscribes=3, complaints=2)  # fmt: skip
    figures = rates(counts)
    assert figures["open_rate"] == 0.4 and figures["click_rate"] == 0.05
    assert figures["booking_click_rate"] == 0.02 and figures["complaint_rate"] == 0.002
    assert figures["bounce_rate"] == 25 / 1025
    assert set(rates(MetricCounts()).values()) == {None}


@pytest.mark.parametrize(
    ("complaints", "bounced", "levels"),
    [(1, 0, []), (2, 0, ["warning"]), (4, 0, ["limit"]), (0, 21, ["limit"]),
     (0, 20, [])],
)  # fmt: skip
def test_health_thresholds_as_mailbox_providers_apply_them(complaints, bounced, levels):
    counts = MetricCounts(delivered=1000 - bounced, bounced=bounced, complaints=complaints)
    assert [level for level, _ in health_flags(counts)] == levels


def test_booking_figures_are_unknown_before_any_import_never_zero():
    unknown = booking_figures(None, 100)
    assert unknown["bookings_imported"] is False
    assert {value for key, value in unknown.items() if key != "bookings_imported"} == {None}
    known = booking_figures(BookingSums(bookings=3, new_clients=1, revenue_cents=13550), 2000)
    assert (known["bookings"], known["returning_clients"], known["revenue"]) == (3, 2, 135.5)
    assert known["bookings_per_1000_delivered"] == 1.5
