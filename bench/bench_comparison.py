"""Benchmark: the owner's comparison (pipeline.comparison.comparison, the dashboard's table)
with 1,000,000 sends, 3,000,000 events and 100,000 bookings; and importing those 100,000
bookings from a CSV (pipeline.bookings.importer.import_bookings, attribution included).

Ten campaigns of 100,000 sends each (100,000 contacts, four segments) and three events per send
are generated set-based in SQL (INSERT ... SELECT over a series), with the engagement counters
ingestion would keep; then a 100,000-row appointments export is written and imported (timed:
target at most 15 s), and the comparison is timed (median of several runs after a warm-up:
target at most 200 ms). Baseline in the same run: `campaign_metrics` of one campaign (the
campaign page's query, with its own 200 ms target), and a bare `SELECT COUNT(*) FROM events`.

    .venv/bin/python bench/bench_comparison.py                # SQLite
    .venv/bin/python bench/bench_comparison.py --postgres     # a throwaway PostgreSQL server
    .venv/bin/python bench/bench_comparison.py --contacts 10000   # a tenth of the size
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_metrics import timed
from bench_webhook import BOOKING, SEGMENTS, machine, make_workspace, scratch_space

CAMPAIGNS = 10
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _series(conn, name: str, count: int) -> str:
    """A FROM clause yielding `name` = 1..count, on either database."""
    if conn.dialect.name == "postgresql":
        return f"generate_series(1, {count}) AS series({name})"
    conn.exec_driver_sql("DROP TABLE IF EXISTS temp.numbers")
    conn.exec_driver_sql("CREATE TEMP TABLE numbers (n INTEGER PRIMARY KEY)")
    conn.exec_driver_sql(
        f"WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {count}) "
        "INSERT INTO numbers SELECT n FROM s"
    )
    return f"(SELECT n AS {name} FROM numbers) AS series"


def _modulo(conn, sql: str) -> str:
    """`sql` with its modulo operators escaped for psycopg, which reads `%` as a placeholder in
    a statement that has parameters."""
    return sql.replace(" % ", " %% ") if conn.dialect.name == "postgresql" else sql


def _time_after(conn, base: str, minutes: str) -> str:
    """SQL for `base` plus `minutes` (SQL expressions), stored as the UTC type stores it."""
    if conn.dialect.name == "postgresql":
        return f"({base} + ({minutes}) * interval '1 minute')"
    return f"(strftime('%Y-%m-%d %H:%M:%f', {base}, '+' || ({minutes}) || ' minutes') || '000')"


def generate(engine, contacts: int, start: datetime) -> None:
    """Contacts, campaigns (started a day apart from `start`), sends and events, set-based."""
    from sqlalchemy import insert, select

    from pipeline.store.tables import campaigns, variants

    with engine.begin() as conn:
        now = datetime.now(UTC)
        series = _series(conn, "k", contacts)
        true = "TRUE" if conn.dialect.name == "postgresql" else "1"
        false = "FALSE" if conn.dialect.name == "postgresql" else "0"
        conn.exec_driver_sql(
            "INSERT INTO contacts (email, email_key, email_hash, first_name, last_name, tags, "
            "attributes, consent_status, consent_source, topics, created_at, updated_at) "
            "SELECT 'client' || k || '@example.com', 'client' || k || '@example.com', "
            "'h' || k, 'C', '', ',', '{}', 'subscribed', 'bench', '[]', %(now)s, %(now)s "
            f"FROM {series}".replace("%(now)s", "?" if conn.dialect.name == "sqlite" else "%s"),
            (now, now),
        )
        for number in range(CAMPAIGNS):
            started = start + timedelta(days=number)
            campaign_id = conn.execute(
                insert(campaigns)
                .values(
                    slug=f"bench-{number}", name=f"Bench {number}", origin="file", spec={},
                    spec_hash="0" * 64, state="sent", started_at=started, created_at=now,
                    updated_at=now,
                )
                .returning(campaigns.c.id)
            ).scalar_one()  # fmt: skip
            for segment, code in SEGMENTS:
                conn.execute(
                    insert(variants).values(
                        campaign_id=campaign_id, segment=segment, segment_code=code,
                        subject="s", preheader="p", score=1.0, matches={}, excerpt=[],
                        html="", text="", tokens={"html": {}, "text": {}}, created_at=now,
                    )
                )  # fmt: skip
        first_campaign = conn.execute(select(campaigns.c.id).order_by(campaigns.c.id)).first()[0]
        marker = "?" if conn.dialect.name == "sqlite" else "%s"
        # Each contact gets every campaign, in the variant of its segment (contact id mod 4).
        conn.exec_driver_sql(
            _modulo(
                conn,
                "INSERT INTO sends (campaign_id, contact_id, variant_id, status, attempts, "
                "queued_at, sent_at, updated_at) "
                "SELECT campaigns.id, contacts.id, variants.id, 'delivered', 1, "
                f"campaigns.started_at, campaigns.started_at, {marker} "
                "FROM campaigns JOIN contacts ON 1 = 1 "
                "JOIN variants ON variants.campaign_id = campaigns.id "
                f"AND variants.id - (campaigns.id - {first_campaign}) * 4 "
                f"  - {first_campaign} = contacts.id % 4",
            ),
            (now,),
        )
        # Three events per send: processed and delivered, then an open (a fifth by machines)
        # or, for a quarter of the sends, a click (half of them on the booking page). Each
        # send's events come over the first day after its campaign started.
        late = "(sends.contact_id % 1440)"
        conn.exec_driver_sql(
            _modulo(
                conn,
                "INSERT INTO events (sg_event_id, send_id, campaign_id, variant_id, event, "
                "occurred_at, url, machine_open, simulated, received_at) "
                "SELECT 'b-' || sends.id || '-' || kinds.k, sends.id, sends.campaign_id, "
                "sends.variant_id, "
                "CASE kinds.k WHEN 0 THEN 'processed' WHEN 1 THEN 'delivered' "
                "  ELSE CASE WHEN sends.contact_id % 4 = 0 THEN 'click' ELSE 'open' END END, "
                f"{_time_after(conn, 'sends.sent_at', late + ' + kinds.k * 10')}, "
                "CASE WHEN kinds.k = 2 AND sends.contact_id % 4 = 0 THEN "
                f"  CASE WHEN sends.contact_id % 8 = 0 THEN '{BOOKING}?utm_source=clinicmail' "
                "  ELSE 'https://harbourside-clinic.example/articles/a' END END, "
                f"CASE WHEN kinds.k = 2 AND sends.contact_id % 5 = 0 THEN {true} ELSE {false} END, "
                f"{false}, {marker} "
                "FROM sends JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) AS kinds "
                "ON 1 = 1",
            ),
            (now,),
        )
        # The counters ingestion keeps (first engagement per send and kind, by local day);
        # every send has one event of each kind here, so they are plain counts.
        day = (
            "CAST(events.occurred_at AS DATE)"
            if conn.dialect.name == "postgresql"
            else ("date(events.occurred_at)")
        )
        kind = (
            "CASE events.event WHEN 'delivered' THEN 'delivered' WHEN 'click' THEN 'clicks' "
            "WHEN 'processed' THEN 'processed' "
            "ELSE CASE WHEN events.machine_open THEN 'machine_opens' ELSE 'opens' END END"
        )
        conn.exec_driver_sql(
            "INSERT INTO event_counts (campaign_id, variant_id, day, kind, simulated, count) "
            f"SELECT campaign_id, variant_id, {day}, {kind}, {false}, COUNT(*) FROM events "
            f"GROUP BY campaign_id, variant_id, {day}, {kind}"
        )
        conn.exec_driver_sql(
            "INSERT INTO event_counts (campaign_id, variant_id, day, kind, simulated, count) "
            f"SELECT campaign_id, variant_id, {day}, 'booking_clicks', {false}, COUNT(*) "
            f"FROM events WHERE event = 'click' AND substr(url, 1, {len(BOOKING)}) = '{BOOKING}' "
            f"GROUP BY campaign_id, variant_id, {day}"
        )


def write_appointments(path: Path, contacts: int, start: datetime) -> None:
    """One appointment per contact, booked over the campaigns' fortnight (a few within a week
    of a click, most not); a tenth cancelled and a tenth no-shows; a few of unknown people."""
    statuses = ("Cancelled", "No-show") + ("Booked",) * 8
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["Appointment ID", "Client Email", "Start", "Service", "Price", "Booked At", "Status"]
        )
        for number in range(1, contacts + 1):
            booked = start + timedelta(days=number % 14, minutes=number % 1440 + 45)
            email = f"client{number}@example.com" if number % 50 else f"new{number}@example.com"
            writer.writerow(
                [
                    f"APT-{number}", email,
                    (booked + timedelta(days=3)).strftime("%d/%m/%Y %H:%M"),
                    "Sports massage", f"£{40 + number % 4 * 10}.00",
                    booked.strftime("%Y-%m-%dT%H:%M:%SZ"), statuses[number % 10],
                ]
            )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=100_000, help="sends: ten per contact")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", action="store_true", help="a throwaway PostgreSQL server")
    args = parser.parse_args()

    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    with scratch_space("clinicmail-bench-comparison-", args.postgres) as (folder, url):
        os.environ.update(make_workspace(folder, url))
        from sqlalchemy import func, select

        from pipeline.bookings.importer import import_bookings
        from pipeline.comparison import comparison
        from pipeline.config import load_settings
        from pipeline.metrics import campaign_metrics
        from pipeline.store import open_engine, upgrade
        from pipeline.store.bookings import AttributionKey
        from pipeline.store.tables import bookings, events, sends

        settings = load_settings()
        engine = open_engine(settings.database_url)
        upgrade(engine)
        zone = settings.clinic.zone
        today = date.today()
        start = datetime.combine(today - timedelta(days=20), datetime.min.time(), UTC)
        began = time.perf_counter()
        generate(engine, args.contacts, start)
        with engine.connect() as conn:
            sent = conn.execute(select(func.count()).select_from(sends)).scalar_one()
            stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
        print(
            f"generated {sent:,} sends and {stored:,} events in {time.perf_counter() - began:.0f} s"
        )

        # Fresh statistics (and on PostgreSQL a visibility map), as a database that has been
        # running a while has: its planner otherwise guesses at tables filled a moment ago.
        maintenance = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(maintenance)
        appointments = folder / "appointments.csv"
        write_appointments(appointments, args.contacts, start)
        began, began_cpu = time.perf_counter(), time.process_time()
        report = import_bookings(
            engine, appointments, zone=zone, attribution=AttributionKey("last_click", 7)
        )
        import_s, import_cpu = time.perf_counter() - began, time.process_time() - began_cpu
        with engine.connect() as conn:
            credited = conn.execute(
                select(func.count()).where(bookings.c.attributed_campaign_id.is_not(None))
            ).scalar_one()
        print(
            f"bookings import: {report.read:,} rows ({report.created:,} created, "
            f"{report.unknown_addresses:,} unknown addresses, {len(report.rejected)} rejected; "
            f"{credited:,} credited to a campaign email) in {import_s:.1f} s "
            f"({import_cpu:.1f} s CPU in this process)"
        )
        print(f"{'PASS' if import_s <= 15 else 'FAIL'}: import target at most 15 s")

        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(maintenance)
        since = today - timedelta(days=29)

        def bare_count() -> None:
            with engine.connect() as conn:
                conn.execute(select(func.count()).select_from(events)).scalar_one()

        def campaign_page() -> None:
            with engine.connect() as conn:
                campaign_metrics(conn, "bench-0")

        def compared() -> None:
            with engine.connect() as conn:
                comparison(conn, since, zone=zone, sort="bookings")

        with engine.connect() as conn:
            result = comparison(conn, since, zone=zone, sort="bookings")
        top = result.rows[0].document()
        print(
            f"comparison: {len(result.rows)} campaigns; top by bookings {top['campaign']}: "
            f"delivered {top['delivered']:,}, booking clicks {top['booking_clicks']:,}, "
            f"bookings {top['bookings']:,}, revenue {top['revenue']:,.2f}"
        )
        (count_ms, _), (page_ms, _), (comparison_ms, comparison_cpu) = (
            timed(bare_count, args.runs),
            timed(campaign_page, args.runs),
            timed(compared, args.runs),
        )
        print(f"database: {engine.dialect.name}; medians of {args.runs} runs")
        print(f"baseline SELECT COUNT(*) FROM events: {count_ms:.1f} ms")
        print(f"baseline campaign_metrics (one campaign): {page_ms:.1f} ms")
        print(
            f"comparison (all campaigns, bookings): {comparison_ms:.1f} ms "
            f"({comparison_cpu:.1f} ms CPU)"
        )
        print(
            f"ratio comparison/campaign_metrics: {comparison_ms / page_ms:.2f}; "
            f"comparison/count: {comparison_ms / count_ms:.2f}"
        )
        print(f"{'PASS' if comparison_ms <= 200 else 'FAIL'}: comparison target at most 200 ms")
        engine.dispose()


if __name__ == "__main__":
    main()
