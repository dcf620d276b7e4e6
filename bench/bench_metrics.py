"""Benchmark: the campaign metrics query with 1,000,000 sends and 3,000,000 events.

Builds one campaign (four segments, 1,000,000 sends) and ingests 3,000,000 SendGrid-shaped
events through the webhook's own store path (pipeline.store.events.record_events) over 30 days,
then times `pipeline.metrics.campaign_metrics` (median of several runs, after one warm-up).
Baseline in the same run: a bare `SELECT COUNT(*) FROM events`. Target: at most 200 ms.

    .venv/bin/python bench/bench_metrics.py
    .venv/bin/python bench/bench_metrics.py --sends 100000 --postgres
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_webhook import BOOKING, machine, make_workspace, prepare_database, scratch_space

EVENTS_PER_SEND = 3
INGEST_BATCH = 5000
# Outbox outcomes, in turn: mostly sent, a few failed, skipped and unknown.
STATUSES = ("sent",) * 96 + ("failed", "skipped", "unknown", "queued")


def events_for(send_ids: list[int], start: datetime, total: int):
    """SendGrid-like events for the sends, `total` in all, in batches: every send processed, 97%
    delivered and 3% bounced; 60% opened (a quarter of them by machines), 25% clicked (half on
    the booking page), and repeat opens to make up the total."""
    from pipeline.models import Event

    batch: list[Event] = []
    made = 0
    for index, send_id in enumerate(send_ids):
        moment = start + timedelta(minutes=index % (30 * 24 * 60))
        kinds = [("processed", {}), ("bounce" if index % 33 == 0 else "delivered", {})]
        if index % 5 < 3:
            kinds.append(("open", {"machine_open": index % 4 == 0}))
        if index % 4 == 0:
            url = f"{BOOKING}?utm_source=clinicmail" if index % 8 == 0 else "https://x.example/a"
            kinds.append(("click", {"url": url}))
        if index % 20 < 3:
            kinds.append(("open", {}))
        for number, (kind, fields) in enumerate(kinds):
            if made == total:
                break
            batch.append(
                Event(
                    sg_event_id=f"m-{send_id}-{number}",
                    event=kind,
                    occurred_at=moment + timedelta(minutes=number * 7),
                    send_id=send_id,
                    email=f"client{send_id}@example.com",
                    bounce_type="bounce" if kind == "bounce" else None,
                    **fields,
                )
            )
            made += 1
            if len(batch) == INGEST_BATCH:
                yield batch
                batch = []
    if batch:
        yield batch


def timed(function, runs: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of `runs` calls, after one warm-up call. CPU time is
    this process's (SQLite runs in it), so it holds on a machine shared with other work."""
    function()
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        function()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sends", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, help="default: three per send")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    parser.add_argument(
        "--postgres", action="store_true", help="run on a throwaway PostgreSQL server"
    )
    args = parser.parse_args()
    total_events = args.events or args.sends * EVENTS_PER_SEND

    print(f"machine: {machine()}")
    with scratch_space("clinicmail-bench-metrics-", args.postgres, args.database_url) as (
        folder,
        database_url,
    ):
        env = make_workspace(folder, database_url)
        started = time.perf_counter()
        send_ids = prepare_database(env, args.sends, segments=4, statuses=STATUSES)
        print(f"made {len(send_ids):,} sends in {time.perf_counter() - started:.0f} s")

        from sqlalchemy import func, select

        from pipeline.config import load_settings
        from pipeline.metrics import campaign_metrics
        from pipeline.store import open_engine, utcnow
        from pipeline.store.events import record_events
        from pipeline.store.tables import events

        settings = load_settings()
        engine = open_engine(settings.database_url)
        started = time.perf_counter()
        start = datetime.now(UTC) - timedelta(days=31)
        for batch in events_for(send_ids, start, total_events):
            with engine.begin() as conn:
                record_events(
                    conn,
                    batch,
                    zone=settings.clinic.zone,
                    booking_url=BOOKING,
                    received_at=utcnow(),
                )
        ingest = time.perf_counter() - started
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
        print(f"ingested {stored:,} events in {ingest:.0f} s ({stored / ingest:,.0f} events/s)")
        # Fresh statistics (and on PostgreSQL a visibility map for index-only scans), as a
        # database that has been running a while has.
        maintenance = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(maintenance)

        def bare_count() -> None:
            with engine.connect() as conn:
                conn.execute(select(func.count()).select_from(events)).scalar_one()

        def metrics() -> None:
            with engine.connect() as conn:
                campaign_metrics(conn, "bench")

        with engine.connect() as conn:
            totals = campaign_metrics(conn, "bench").totals
        print(
            f"campaign totals: audience {totals.audience:,}, delivered {totals.delivered:,}, "
            f"opens {totals.opens:,}, clicks {totals.clicks:,}, booking {totals.booking_clicks:,}"
        )
        (baseline_ms, baseline_cpu), (metrics_ms, metrics_cpu) = (
            timed(bare_count, args.runs),
            timed(metrics, args.runs),
        )
        print(f"database: {engine.dialect.name}; medians of {args.runs} runs")
        print(
            f"baseline SELECT COUNT(*) FROM events: {baseline_ms:.1f} ms "
            f"({baseline_cpu:.1f} ms CPU)"
        )
        print(f"campaign_metrics: {metrics_ms:.1f} ms ({metrics_cpu:.1f} ms CPU)")
        print(f"ratio metrics/baseline: {metrics_ms / baseline_ms:.2f}")
        print(f"{'PASS' if metrics_ms <= 200 else 'FAIL'}: target at most 200 ms")
        engine.dispose()


if __name__ == "__main__":
    main()
