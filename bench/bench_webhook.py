"""Benchmark: Event Webhook ingestion through a real running app (uvicorn on 127.0.0.1).

Posts signed, SendGrid-sized batches (1,000 events, well under 768 KB) to POST /webhooks/sendgrid
of `create_app(settings)` and counts the stored events afterwards (each exactly once, including
re-posted batches). Baseline in the same run and server: the same posts to an endpoint that
only verifies the signature and parses the batch, then discards it.

    .venv/bin/python bench/bench_webhook.py                      # 1,000,000 events on SQLite
    .venv/bin/python bench/bench_webhook.py --events 200000 --postgres
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from proc_stats import child_pids, cpu_seconds  # noqa: E402

BATCH = 1000
# processed and delivered (or bounce) for each, opens for most, clicks for a third: 3.3 per
# send, so sizing by 3 makes enough sends and the events are cut at the total asked for.
EVENTS_PER_SEND = 3
BOOKING = "https://harbourside-clinic.example/book"


def machine() -> str:
    return (
        f"{platform.platform()} | {os.cpu_count()} CPUs | Python {platform.python_version()} | "
        f"{platform.processor() or platform.machine()}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_workspace(folder: Path, database_url: str | None) -> dict[str, str]:
    """A copy of the sample clinic in `folder`; returns the environment the app runs with."""
    shutil.copy(REPO / "clinic.toml", folder / "clinic.toml")
    shutil.copytree(REPO / "campaigns", folder / "campaigns")
    env = dict(os.environ)
    env["CLINICMAIL_WORKSPACE"] = str(folder)
    env["CLINICMAIL_SECRET_KEY"] = "bench-secret"
    env["CLINICMAIL_DATABASE_URL"] = database_url or f"sqlite:///{folder / 'bench.db'}"
    return env


SEGMENTS = (
    ("athletes", "s1a7"), ("desk_workers", "s3q8"), ("post_op", "s5w2"), ("general", "g0"),
)  # fmt: skip


def start_postgres():
    """A throwaway PostgreSQL server (as the tests use) with an empty `bench` database; returns
    (server, database URL). Call server.stop() afterwards."""
    from sqlalchemy import create_engine, text

    from tests.postgres import ThrowawayPostgres

    server = ThrowawayPostgres()
    base = server.start()
    admin = create_engine(f"{base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("CREATE DATABASE bench"))
    admin.dispose()
    return server, f"{base}/bench"


@contextmanager
def scratch_space(
    prefix: str, postgres: bool, database_url: str | None = None
) -> Iterator[tuple[Path, str | None]]:
    """A scratch folder, and the database to use: a throwaway PostgreSQL server's with
    `postgres`, else `database_url` (None: the script's own SQLite file). Both go afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    server, url = start_postgres() if postgres else (None, database_url)
    try:
        yield folder, url
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def prepare_database(
    env: dict[str, str], sends: int, segments: int = 2, statuses: tuple[str, ...] = ("sent",)
) -> list[int]:
    """Migrate, and make one started campaign with `segments` variants and `sends` sends (their
    statuses taken in turn from `statuses`)."""
    os.environ.update(env)
    from sqlalchemy import insert, select

    from pipeline.config import load_settings
    from pipeline.store import open_engine, upgrade, utcnow
    from pipeline.store.tables import campaigns, variants
    from pipeline.store.tables import sends as sends_table

    settings = load_settings()
    engine = open_engine(settings.database_url)
    upgrade(engine)
    now = utcnow()
    with engine.begin() as conn:
        campaign_id = conn.execute(
            insert(campaigns)
            .values(
                slug="bench", name="Bench", origin="file", spec={}, spec_hash="0" * 64,
                state="sending", started_at=now, created_at=now, updated_at=now,
            )
            .returning(campaigns.c.id)
        ).scalar_one()  # fmt: skip
        variant_ids = [
            conn.execute(
                insert(variants)
                .values(
                    campaign_id=campaign_id, segment=segment, segment_code=code, subject="s",
                    preheader="p", score=1.0, matches={}, excerpt=[], html="", text="",
                    tokens={"html": {}, "text": {}}, created_at=now,
                )
                .returning(variants.c.id)
            ).scalar_one()
            for segment, code in SEGMENTS[:segments]
        ]  # fmt: skip
        rows = [
            {
                "campaign_id": campaign_id, "contact_id": None,
                "variant_id": variant_ids[number % segments],
                "status": statuses[number % len(statuses)], "attempts": 1,
                "queued_at": now, "sent_at": now, "updated_at": now,
            }
            for number in range(sends)
        ]  # fmt: skip
        for start in range(0, len(rows), 50_000):
            conn.execute(insert(sends_table), rows[start : start + 50_000])
        send_ids = list(conn.execute(select(sends_table.c.id).order_by(sends_table.c.id)).scalars())
    engine.dispose()
    return send_ids


def make_events(send_ids: list[int], total: int) -> list[dict]:
    """SendGrid-shaped events, in the order a campaign produces them per recipient."""
    stamp = int(datetime.now(UTC).timestamp()) - 3600
    items: list[dict] = []
    for index, send_id in enumerate(send_ids):
        kinds = ["processed", "delivered" if index % 50 else "bounce"]
        if index % 50:
            kinds.append("open")
            if index % 3 == 0:
                kinds.append("click")
        for kind in kinds:
            item = {
                "email": f"client{send_id}@example.com",
                "timestamp": stamp + index % 3600,
                "smtp-id": f"<{send_id}.bench@ismtpd-1>",
                "event": kind,
                "category": ["newsletter"],
                "sg_event_id": f"bench-{send_id}-{kind}",
                "sg_message_id": f"{send_id}.filter0001.bench.0",
                "send_id": str(send_id),
                "campaign": "bench",
                "variant": "s1a7",
            }
            if kind == "open":
                item["sg_machine_open"] = index % 4 == 0
                item["useragent"] = "Mozilla/5.0"
            if kind == "click":
                item["url"] = (
                    f"{BOOKING}?utm_source=clinicmail" if index % 2 else "https://x.example/a"
                )
            if kind == "bounce":
                item.update(type="bounce", reason="550 5.1.1 unknown user", status="5.1.1")
            items.append(item)
            if len(items) == total:
                return items
    return items


def sign_batches(items: list[dict]) -> tuple[str, list[tuple[bytes, dict[str, str]]]]:
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from pipeline.tracking import SIGNATURE_HEADER, TIMESTAMP_HEADER

    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    ).decode()
    signed = []
    for start in range(0, len(items), BATCH):
        body = json.dumps(items[start : start + BATCH], separators=(",", ":")).encode() + b"\r\n"
        stamp = str(int(time.time()))
        signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        headers = {
            SIGNATURE_HEADER: base64.b64encode(signature).decode(),
            TIMESTAMP_HEADER: stamp,
            "Content-Type": "application/json",
        }
        signed.append((body, headers))
    return public, signed


def bench_app():
    """The real app, plus the baseline endpoint that verifies and parses, then discards."""
    from starlette.responses import Response

    from pipeline.config import load_settings
    from pipeline.tracking import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_webhook
    from pipeline.web.app import create_app
    from pipeline.web.webhooks import (
        MAX_WEBHOOK_BYTES,
        SIGNATURE_TOLERANCE_SECONDS,
        parse_batch,
        read_body_limited,
    )

    settings = load_settings()
    app = create_app(settings)

    async def verify_and_discard(request) -> Response:
        body = await read_body_limited(request, MAX_WEBHOOK_BYTES)
        if not verify_webhook(
            settings.webhook_public_key or "",
            request.headers[SIGNATURE_HEADER],
            request.headers[TIMESTAMP_HEADER],
            body,
            SIGNATURE_TOLERANCE_SECONDS,
        ):
            return Response(status_code=403)
        parse_batch(body)
        return Response(status_code=200)

    app.add_route("/bench/discard", verify_and_discard, methods=["POST"])
    return app


def serve(port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "bench_webhook:bench_app",
        factory=True,
        app_dir=str(Path(__file__).resolve().parent),
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


def server_cpu_seconds(root_pid: int) -> float:
    """CPU time (user + system) used so far by a process and its children (uvicorn's workers):
    on a shared machine, events per server CPU-second is the figure that compares."""
    return sum(cpu_seconds(pid) or 0.0 for pid in [root_pid, *child_pids(root_pid)])


def post_all(
    base: str, path: str, batches: list[tuple[bytes, dict[str, str]]], clients: int
) -> float:
    """Post every batch with `clients` concurrent keep-alive connections; seconds taken."""

    def worker(share: list[tuple[bytes, dict[str, str]]]) -> None:
        with httpx.Client(base_url=base, timeout=120) as client:
            for body, headers in share:
                response = client.post(path, content=body, headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

    shares = [batches[number::clients] for number in range(clients)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker, share) for share in shares]:
            future.result()
    return time.perf_counter() - started


def count_events(env: dict[str, str]) -> tuple[int, int]:
    os.environ.update(env)
    from sqlalchemy import func, select

    from pipeline.config import load_settings
    from pipeline.store import open_engine
    from pipeline.store.tables import events, send_engagements

    engine = open_engine(load_settings().database_url)
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(events)).scalar_one()
        distinct = conn.execute(select(func.count(events.c.sg_event_id.distinct()))).scalar_one()
        conn.execute(select(func.count()).select_from(send_engagements))
    engine.dispose()
    return stored, distinct


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=4, help="concurrent connections")
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    parser.add_argument(
        "--postgres", action="store_true", help="run on a throwaway PostgreSQL server"
    )
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.workers)
        return

    print(f"machine: {machine()}")
    with scratch_space("clinicmail-bench-webhook-", args.postgres, args.database_url) as (
        folder,
        database_url,
    ):
        env = make_workspace(folder, database_url)
        sends = int(args.events / EVENTS_PER_SEND) + 1
        send_ids = prepare_database(env, sends)
        items = make_events(send_ids, args.events)
        public_key, batches = sign_batches(items)
        env["SENDGRID_WEBHOOK_PUBLIC_KEY"] = public_key
        database = env["CLINICMAIL_DATABASE_URL"].split(":", 1)[0]
        print(f"database: {database}; {len(items):,} events in {len(batches):,} signed batches "
              f"of up to {BATCH} (largest {max(len(b) for b, _ in batches) / 1024:.0f} KB); "
              f"{len(send_ids):,} sends; {args.clients} concurrent connections; "
              f"{args.workers} server worker(s)")  # fmt: skip
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(port), "--workers", str(args.workers)],
            env=env,
            cwd=folder,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    httpx.get(f"{base}/static/clinic.css", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            cpu_start = server_cpu_seconds(server.pid)
            baseline = post_all(base, "/bench/discard", batches, args.clients)
            cpu_baseline = server_cpu_seconds(server.pid) - cpu_start
            stored_time = post_all(base, "/webhooks/sendgrid", batches, args.clients)
            cpu_stored = server_cpu_seconds(server.pid) - cpu_start - cpu_baseline
            # SendGrid retries: re-posting batches must store nothing more.
            post_all(base, "/webhooks/sendgrid", batches[:20], args.clients)
        finally:
            server.terminate()
            server.wait(timeout=30)
        stored, distinct = count_events(env)
        rate = len(items) / stored_time
        baseline_rate = len(items) / baseline
        print(
            f"baseline (verify + parse + discard): {baseline_rate:,.0f} events/s ({baseline:.1f} s)"
        )
        print(
            f"stored (verify + parse + store + apply): {rate:,.0f} events/s ({stored_time:.1f} s)"
        )
        print(f"ratio stored/baseline: {rate / baseline_rate:.2f}")
        print(
            f"server CPU: baseline {len(items) / cpu_baseline:,.0f} events per CPU-second, "
            f"stored {len(items) / cpu_stored:,.0f} events per CPU-second"
        )
        expected = len(items)
        print(f"events in the database: {stored:,} (distinct {distinct:,}; expected {expected:,})")
        if stored != len(items) or distinct != len(items):
            raise SystemExit("FAIL: events were not stored exactly once")
        verdict = "PASS" if rate >= 20_000 else "FAIL"
        print(f"{verdict}: target at least 20,000 events/s stored")


if __name__ == "__main__":
    main()
