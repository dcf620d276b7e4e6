"""Bookings import and attribution on SQLite and PostgreSQL, against a hand-worked scenario:
two campaigns, clients who clicked, opened or did nothing, cancelled and missed appointments,
an address that is no contact, and bad rows; the row report, idempotence, and the figures per
campaign and segment under both attribution models."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from pipeline.bookings.importer import import_bookings
from pipeline.cli import main
from pipeline.comparison import comparison
from pipeline.config import load_settings
from pipeline.errors import CsvError
from pipeline.metrics import campaign_document, campaign_metrics
from pipeline.models import BookingSums, Event
from pipeline.store import open_engine
from pipeline.store.bookings import AttributionKey, refresh_derived
from pipeline.store.events import record_events
from tests.tracking_support import add_campaign, add_contact, add_send

LONDON = ZoneInfo("Europe/London")
BOOKING = "https://harbourside-clinic.example/book"
LAST_CLICK = AttributionKey("last_click", 7)
LAST_OPEN = AttributionKey("last_open", 7)

# Semicolons, a heading per booking system's habit, UK local times and ISO ones mixed.
APPOINTMENTS = """\
Appointment ID;Client Email;Start;Service;Price;Booked At;Status
A-1;ana@example.com;07/06/2026 11:00;Sports massage;£40.00;2026-06-05T09:00:00Z;Booked
A-2;ANA@example.com;2026-06-12T10:00:00Z;Sports massage;50;06/06/2026 10:00;Confirmed
A-3;ben@example.com;2026-06-04T10:00:00Z;Physio;45;2026-06-03T08:00:00Z;Cancelled
A-4;cat@example.com;2026-06-05T10:00:00Z;Physio;45;2026-06-03T08:00:00Z;Completed
A-5;dan@example.com;2026-06-11T10:00:00Z;Physio;45;2026-06-10T10:00:00Z;booked
A-6;eve@example.com;2026-06-05T10:00:00Z;Massage;55;2026-06-04T08:00:00Z;No-show
;fay@example.com;2026-06-04T10:00:00Z;Massage;65;2026-06-03T08:00:00Z;booked
;fay@example.com;2026-05-01T10:00:00Z;Massage;65;2026-04-28T08:00:00Z;booked
A-9;stranger@example.com;2026-06-04T10:00:00Z;Massage;30;2026-06-02T08:00:00Z;booked
A-10;not-an-address;2026-06-04T10:00:00Z;Massage;30;2026-06-02T08:00:00Z;booked
A-11;ben@example.com;31/02/2026 10:00;Massage;30;2026-06-02T08:00:00Z;booked
A-12;ben@example.com;2026-06-04T10:00:00Z;Massage;30;2026-06-02T08:00:00Z;Maybe
"""
REJECTED = [
    {"row": 11, "column": "Client Email", "reason": "REASON"},
    {"row": 12, "column": "Start",
     "reason": "'31/02/2026' is not a real date: day is out of range for month"},
    {"row": 13, "column": "Status",
     "reason": "'Maybe' is not a status (use booked, cancelled or no-show)"},
]  # fmt: skip


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def clinic(engine):
    """Campaign A (athletes: ana, dan, fay; desk workers: ben, cat, eve) and campaign B
    (athletes: ana), with the clicks and opens the expectations below are worked from."""
    with engine.begin() as conn:
        first = add_campaign(conn, "spring-back-care", started_at=_at("2026-06-01T08:00"))
        second = add_campaign(conn, "summer-legs", started_at=_at("2026-06-05T08:00"))
        people = {
            name: add_contact(conn, f"{name}@example.com")
            for name in ("ana", "ben", "cat", "dan", "eve", "fay")
        }
        sends = {
            name: add_send(conn, first, people[name], segment)
            for name, segment in (
                ("ana", "athletes"), ("dan", "athletes"), ("fay", "athletes"),
                ("ben", "desk_workers"), ("cat", "desk_workers"), ("eve", "desk_workers"),
            )
        }  # fmt: skip
        ana_b = add_send(conn, second, people["ana"], "athletes")
        batch = [Event(f"d-{n}", "delivered", _at("2026-06-01T09:00"), s) for n, s in sends.items()]
        batch += [
            Event("d-ana-b", "delivered", _at("2026-06-05T09:00"), ana_b),
            Event("c-ana", "click", _at("2026-06-01T10:00"), sends["ana"], url=BOOKING),
            Event("c-ana-b", "click", _at("2026-06-05T10:00"), ana_b, url=BOOKING + "/"),
            Event("c-ben", "click", _at("2026-06-02T12:00"), sends["ben"], url=BOOKING),
            Event("o-cat", "open", _at("2026-06-02T12:00"), sends["cat"]),
            Event("c-dan", "click", _at("2026-06-01T10:00"), sends["dan"], url=BOOKING),
            Event("m-dan", "open", _at("2026-06-09T10:00"), sends["dan"], machine_open=True),
            Event("c-eve", "click", _at("2026-06-02T12:00"), sends["eve"], url=BOOKING),
            Event("c-fay", "click", _at("2026-06-02T10:00"), sends["fay"], url=BOOKING),
        ]
        record_events(
            conn, batch, zone=LONDON, booking_url=BOOKING, received_at=_at("2026-06-10T00:00")
        )
    return engine


def _file(tmp_path: Path, text: str = APPOINTMENTS, name: str = "appointments.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _import(engine, path: Path, key: AttributionKey = LAST_CLICK):
    return import_bookings(engine, path, zone=LONDON, attribution=key)


def _by_segment(engine, slug: str) -> dict[str, BookingSums | None]:
    with engine.connect() as conn:
        metrics = campaign_metrics(conn, slug)
    return {segment.segment: segment.bookings for segment in metrics.segments}


def test_the_row_report_is_exact_and_a_second_import_changes_nothing(clinic, tmp_path):
    path = _file(tmp_path)
    report = _import(clinic, path).as_dict()
    rejected = report["rejected"]
    assert "not-an-address" in rejected[0]["reason"]
    rejected[0]["reason"] = "REASON"
    assert (report["read"], report["created"], report["updated"], report["unchanged"]) == (
        12, 9, 0, 0,
    )  # fmt: skip
    assert rejected == REJECTED
    assert report["unknown_addresses"] == 1
    again = _import(clinic, path).as_dict()
    assert (again["read"], again["created"], again["updated"], again["unchanged"]) == (12, 0, 0, 9)
    changed = APPOINTMENTS.replace(
        "A-4;cat@example.com;2026-06-05T10:00:00Z;Physio;45;",
        "A-4;cat@example.com;2026-06-05T10:00:00Z;Physio;48;",
    )
    third = _import(clinic, _file(tmp_path, changed)).as_dict()
    assert (third["created"], third["updated"], third["unchanged"]) == (0, 1, 8)


@pytest.mark.parametrize("rows_per_chunk", [2000, 1])
def test_last_click_credits_the_latest_click_within_the_window(
    clinic, tmp_path, monkeypatch, rows_per_chunk
):
    # One row a chunk: bookings are credited as each chunk is written, and fay's May visit,
    # in a later chunk than her June booking, still makes the June one a returning client's.
    monkeypatch.setattr("pipeline.contacts.importer.CHUNK_ROWS", rows_per_chunk)
    _import(clinic, _file(tmp_path))
    first = _by_segment(clinic, "spring-back-care")
    # ana's first booking (made before her click on B) and fay's (returning: she came in May);
    # dan booked 9 days after his click; cat only opened; the stranger is no contact.
    assert first["athletes"] == BookingSums(bookings=2, new_clients=1, revenue_cents=10500)
    # ben cancelled and eve did not come: counted apart, no revenue.
    assert first["desk_workers"] == BookingSums(cancelled=1, no_shows=1)
    second = _by_segment(clinic, "summer-legs")
    # ana's second booking followed her click on B; she already had an appointment.
    assert second["athletes"] == BookingSums(bookings=1, new_clients=0, revenue_cents=5000)
    assert second["desk_workers"] == BookingSums()


def test_the_json_carries_booking_figures_and_rates(clinic, tmp_path):
    _import(clinic, _file(tmp_path))
    with clinic.connect() as conn:
        document = campaign_document(campaign_metrics(conn, "spring-back-care"))
    athletes = document["segments"][0]
    assert athletes["delivered"] == 3 and athletes["booking_clicks"] == 3
    assert athletes["bookings"] == 2 and athletes["revenue"] == 105.0
    assert (athletes["new_clients"], athletes["returning_clients"]) == (1, 1)
    assert athletes["bookings_per_1000_delivered"] == 666.7
    assert athletes["click_rate"] == 1.0
    totals = document["totals"]
    assert (totals["bookings"], totals["cancelled"], totals["no_shows"]) == (2, 1, 1)
    assert totals["bookings_imported"] is True


def test_last_open_counts_opens_by_people_only(clinic, tmp_path):
    _import(clinic, _file(tmp_path), LAST_OPEN)
    first = _by_segment(clinic, "spring-back-care")
    # Only cat opened the email herself; dan's machine open does not count.
    assert first["desk_workers"] == BookingSums(bookings=1, new_clients=1, revenue_cents=4500)
    assert first["athletes"] == BookingSums()
    # Changing the model redoes every booking's attribution.
    with clinic.begin() as conn:
        refresh_derived(conn, LAST_CLICK)
    assert _by_segment(clinic, "spring-back-care")["desk_workers"] == BookingSums(
        cancelled=1, no_shows=1
    )


def test_without_bookings_the_figures_are_unknown_not_zero(clinic):
    assert set(_by_segment(clinic, "spring-back-care").values()) == {None}
    with clinic.connect() as conn:
        result = comparison(conn, date(2026, 5, 25), zone=LONDON)
    assert not result.bookings_imported
    assert all(row.document()["bookings"] is None for row in result.rows)


def test_the_comparison_sorts_filters_and_names_the_best(clinic, tmp_path):
    _import(clinic, _file(tmp_path))
    with clinic.connect() as conn:
        result = comparison(conn, date(2026, 5, 25), zone=LONDON, sort="bookings")
        athletes = comparison(conn, date(2026, 5, 25), zone=LONDON, segment="athletes")
    assert [row.campaign for row in result.rows] == ["spring-back-care", "summer-legs"]
    assert [row.document()["bookings"] for row in result.rows] == [2, 1]
    assert [row.document()["delivered"] for row in athletes.rows] == [3, 1]
    # Too few emails to call any campaign best (fewer than 20 delivered).
    assert result.best_campaign is None


def test_a_file_without_a_status_column_changes_nothing(clinic, tmp_path):
    path = _file(tmp_path, "Email,Start,Booked At\nana@example.com,2026-06-07,2026-06-05\n")
    with pytest.raises(CsvError, match="no status column"):
        _import(clinic, path)
    assert _by_segment(clinic, "spring-back-care")["athletes"] is None


def test_the_cli_prints_the_contacts_report_keys(workspace_db, tmp_path):
    settings = load_settings(workspace_db)
    open_engine(settings.database_url).dispose()
    path = _file(tmp_path)
    result = CliRunner().invoke(
        main, ["--workspace", str(workspace_db), "bookings", "import", str(path), "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document)[:5] == ["read", "created", "updated", "unchanged", "rejected"]
    # No contacts in this database: every booking is of an unknown address, none is added.
    assert (document["created"], document["unknown_addresses"]) == (9, 9)
    assert [r["row"] for r in document["rejected"]] == [11, 12, 13]


def test_demo_booking_clicks_make_simulated_bookings(engine):
    with engine.begin() as conn:
        scenario = add_campaign(conn, "demo-campaign", started_at=_at("2026-06-01T08:00"))
        sends = [
            add_send(conn, scenario, add_contact(conn, f"p{n}@example.com"), "athletes")
            for n in range(4)
        ]
        clicks = [
            Event(f"c{n}", "click", _at("2026-06-01T10:00"), send, url=BOOKING, simulated=True)
            for n, send in enumerate(sends)
        ]
        # A real click makes no booking up, and a repeated batch makes none twice.
        clicks.append(Event("real", "click", _at("2026-06-01T10:00"), sends[0], url=BOOKING))
        for _ in range(2):
            record_events(
                conn, clicks, zone=LONDON, booking_url=BOOKING, received_at=_at("2026-06-01T11:00")
            )
    with engine.connect() as conn:
        metrics = campaign_metrics(conn, "demo-campaign")
    even = sum(1 for send in sends if send % 2 == 0)
    assert metrics.bookings == BookingSums(
        bookings=even, new_clients=even, revenue_cents=metrics.bookings.revenue_cents,
        simulated=True,
    )  # fmt: skip
    assert metrics.bookings.revenue_cents > 0 and metrics.simulated


def test_changing_the_model_in_clinic_toml_redoes_attribution(clinic, workspace_db, tmp_path):
    _import(clinic, _file(tmp_path), LAST_CLICK)
    config = workspace_db / "clinic.toml"
    text = config.read_text(encoding="utf-8")
    assert 'model = "last_click"' in text
    config.write_text(text.replace('model = "last_click"', 'model = "last_open"'))
    result = CliRunner().invoke(
        main,
        ["--workspace", str(workspace_db), "campaign", "status", "spring-back-care", "--json"],
    )
    assert result.exit_code == 0, result.output
    desk_workers = json.loads(result.stdout)["segments"][1]
    assert (desk_workers["segment"], desk_workers["bookings"]) == ("desk_workers", 1)


def test_a_mapping_file_names_unusual_headings_and_bad_ones_are_one_line(workspace_db, tmp_path):
    settings = load_settings(workspace_db)
    open_engine(settings.database_url).dispose()
    path = _file(
        tmp_path,
        "Courriel\tDébut\tCréé le\tÉtat\tTarif\n"
        "ana@example.com\t06/05/2026 10:00\t06/01/2026 09:00\tbooked\t40\n",
        "export.tsv",
    )
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        'columns:\n  "Courriel": email\n  "Début": starts_at\n  "Créé le": booked_at\n'
        '  "État": status\n  "Tarif": value\ndates: month_first\n',
        encoding="utf-8",
    )

    def run(*extra):
        return CliRunner().invoke(
            main,
            ["--workspace", str(workspace_db), "bookings", "import", str(path), "--json", *extra],
        )

    result = run("--mapping", str(mapping))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["created"] == 1
    mapping.write_text('columns:\n  "Courriel": address\n', encoding="utf-8")
    refused = run("--mapping", str(mapping))
    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1 and "mapping.yaml:2" in refused.stderr
    assert "'address' is not a bookings field" in refused.stderr
