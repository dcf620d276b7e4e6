"""Claims benchmark: drains an outbox of N sends (default 400,000, four variants) one claim of
1,000 rows at a time, each claim followed by recording its rows as sent, as a worker does.

A claim must cost the same at the end of the outbox as at its start, when most rows in the
claim index are already `sent`. Baseline, in the same run: the median claim over the first
tenth of the outbox; measured: the median over the last tenth. Target: at most 1.5 times the
baseline. Runs on SQLite, or with --postgres on a throwaway PostgreSQL server (where the claim
locks rows with FOR UPDATE SKIP LOCKED).

    .venv/bin/python bench/bench_claims.py [--sends 400000] [--postgres]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# bench_webhook puts the repository on the path too.
from bench_webhook import machine, scratch_space

BATCH = 1000
TARGET_RATIO = 1.5
SEGMENTS = ("athletes", "desk_workers", "post_op", "general")
SENT: tuple[str, str | None, str | None, float | None] = ("sent", "bench", None, None)


def make_outbox(engine, sends: int) -> int:
    """Contacts, a `sending` campaign with four variants and one queued send per contact,
    numbered variant by variant as materialising does; returns the campaign id."""
    from sqlalchemy import Integer, String, insert, literal, select

    from pipeline.store import utcnow
    from pipeline.store.tables import contacts
    from pipeline.store.tables import sends as sends_table
    from pipeline.store.types import UtcDateTime
    from tests.outbox_fakes import add_campaign, add_contacts, add_variant

    now = utcnow()
    with engine.begin() as conn:
        for start in range(0, sends, 50_000):
            add_contacts(conn, min(50_000, sends - start), start=start)
        campaign_id = add_campaign(conn, "bench-claims")
        variant_ids = [add_variant(conn, campaign_id, segment) for segment in SEGMENTS]
        variant = literal(variant_ids[0], Integer) + contacts.c.id % len(variant_ids)
        audience = select(
            literal(campaign_id, Integer),
            contacts.c.id,
            variant,
            literal("queued", String),
            literal(0, Integer),
            literal(now, UtcDateTime()),
            literal(now, UtcDateTime()),
        ).order_by(variant, contacts.c.id)
        columns = [
            "campaign_id", "contact_id", "variant_id", "status", "attempts", "queued_at",
            "updated_at",
        ]  # fmt: skip
        conn.execute(insert(sends_table).from_select(columns, audience))
    maintenance = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(maintenance)
    return campaign_id


def drain(engine, campaign_id: int) -> list[float]:
    """Claim and record until nothing is left; returns each claim's seconds."""
    from pipeline.store import utcnow
    from pipeline.store.sends import claim_batch, record_results

    claim_seconds = []
    numbers = itertools.count(1)
    while True:
        number = next(numbers)
        now = utcnow()
        owner = f"bench#{number}"
        started = time.perf_counter()
        with engine.begin() as conn:
            batch = claim_batch(conn, campaign_id, owner, now + timedelta(hours=1), now, BATCH)
        claim_seconds.append(time.perf_counter() - started)
        if batch is None:
            return claim_seconds[:-1]
        with engine.begin() as conn:
            record_results(
                conn,
                owner,
                {SENT: batch.send_ids},
                utcnow(),
                retry_delay=timedelta(0),
                reconcile_after=timedelta(hours=1),
                max_attempts=5,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=400_000)
    parser.add_argument(
        "--postgres", action="store_true", help="run on a throwaway PostgreSQL server"
    )
    args = parser.parse_args()

    print(f"machine: {machine()}")
    with scratch_space("clinicmail-bench-claims-", args.postgres) as (folder, database_url):
        from pipeline.store import open_engine, upgrade

        engine = open_engine(database_url or f"sqlite:///{folder / 'bench.db'}")
        upgrade(engine)
        started = time.perf_counter()
        campaign_id = make_outbox(engine, args.sends)
        print(f"made {args.sends:,} queued sends in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        claim_seconds = drain(engine, campaign_id)
        elapsed = time.perf_counter() - started
        claimed = len(claim_seconds)
        print(
            f"database: {engine.dialect.name}; {claimed} claims of up to {BATCH:,} rows, "
            f"each recorded as sent, in {elapsed:.1f} s"
        )
        tenth = max(1, claimed // 10)
        first = statistics.median(claim_seconds[:tenth]) * 1000
        last = statistics.median(claim_seconds[-tenth:]) * 1000
        print(f"baseline: median claim over the first tenth of the outbox: {first:.1f} ms")
        print(f"median claim over the last tenth: {last:.1f} ms")
        print(f"ratio last / first: {last / first:.2f}")
        verdict = "PASS" if last <= TARGET_RATIO * first else "FAIL"
        print(f"{verdict}: target at most {TARGET_RATIO} times the baseline")
        engine.dispose()


if __name__ == "__main__":
    main()
