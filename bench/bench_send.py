"""Sending benchmark: a campaign to N recipients (default 1,000,000) on SQLite, three segments
and general, through the outbox and the SendGrid backend to the local SendGrid-compatible server
(benchmark mode, in its own process). Measures the time to start the campaign (render, check,
materialise the audience), the hand-off rate, and the peak RSS of this process and of its
sending processes; the baseline is the same server's accept rate for pre-built 1,000-recipient
bodies, measured in the same run.

Run: .venv/bin/python bench/bench_send.py [--recipients 1000000] [--processes N]
     [--concurrency N] [--profile] [--start-only]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from proc_stats import child_pids, command_line, cpu_seconds  # noqa: E402
from proc_stats import peak_rss_mb as peak_rss_of  # noqa: E402

SLUG = "bench-send"
API_KEY = "SG.benchmark"
CAMPAIGN = """\
name: Sending benchmark
article: full-treatment-for-back-pain
template: single
segments: all
threshold: 0.0
"""
# Set-based seeding: a recursive CTE makes N contacts in one INSERT … SELECT. A quarter each in
# athletes (runner), desk workers (desk), post-op (post-op, health-sensitive) and none (general);
# every tenth person is in two segments, which the outbox's CASE must resolve to one variant.
SEED_CONTACTS = """
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
INSERT INTO contacts (email, email_key, email_hash, first_name, last_name, tags, attributes,
                      consent_status, consent_source, consent_at, topics, created_at, updated_at)
SELECT 'client' || i || '@example.com', 'client' || i || '@example.com', printf('%064x', i),
       'Client' || (i % 997), '',
       CASE i % 4 WHEN 0 THEN ',runner,' WHEN 1 THEN ',desk,' WHEN 2 THEN ',post-op,' ELSE ',' END
         || CASE WHEN i % 10 = 0 THEN 'desk,' ELSE '' END,
       '{}', 'subscribed', 'benchmark seed', :now, '[]', :now, :now
FROM n
"""


def machine() -> str:
    return f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def python_loop_seconds() -> float:
    """Seconds this host takes for a fixed pure-Python loop: on a shared virtual machine the
    same work can take 50% longer from one hour to the next, and every figure here with it."""
    started = time.perf_counter()
    sum(range(30_000_000))
    return time.perf_counter() - started


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sending_children(exclude: int) -> list[int]:
    """This process's children other than `exclude` and multiprocessing's resource tracker: the
    sending processes, when there are."""
    return [
        pid
        for pid in child_pids(os.getpid())
        if pid != exclude and b"resource_tracker" not in command_line(pid)
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_workspace(root: Path, concurrency: int, processes: int = 1) -> Path:
    workspace = root / "clinic"
    workspace.mkdir()
    for folder in ("content", "templates"):
        shutil.copytree(REPO / folder, workspace / folder)
    (workspace / "campaigns").mkdir()
    shutil.copy(REPO / "campaigns" / "segments.yaml", workspace / "campaigns" / "segments.yaml")
    (workspace / "campaigns" / f"{SLUG}.yaml").write_text(CAMPAIGN, encoding="utf-8")
    config = (REPO / "clinic.toml").read_text(encoding="utf-8")
    config = config.replace('quiet_hours = "21:00-08:00"', 'quiet_hours = ""')
    config = config.replace(
        'closure_dates = ["2026-12-25", "2026-12-26", "2027-01-01"]', "closure_dates = []"
    )
    config = config.replace("concurrency = 4", f"concurrency = {concurrency}")
    config = config.replace("processes = 1", f"processes = {processes}")
    (workspace / "clinic.toml").write_text(config, encoding="utf-8")
    return workspace


def start_server(workspace: Path) -> tuple[subprocess.Popen, str]:
    """The local SendGrid-compatible server in benchmark mode, in its own process (its request
    handling must not share this process's interpreter lock)."""
    import httpx

    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("clinicmail")), "--workspace", str(workspace), "dev",
         "sendgrid-server", "--port", str(port), "--benchmark", "--no-webhook"],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/_local/health").status_code == 200:
                return process, url
        except httpx.TransportError:
            if time.monotonic() > deadline:
                process.kill()
                raise SystemExit("the local SendGrid server did not start") from None
            time.sleep(0.1)


@contextmanager
def timed_statements(engine) -> Iterator[list[tuple[str, float]]]:
    """(SQL, seconds) of every statement the engine runs inside the block."""
    from sqlalchemy import event

    timings: list[tuple[str, float]] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["statement_started"] = time.perf_counter()

    def after(conn, cursor, statement, parameters, context, executemany):
        timings.append((statement, time.perf_counter() - conn.info["statement_started"]))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield timings
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def profile_worker_threads() -> list[cProfile.Profile]:
    """cProfile sees one thread only: give each of the drain's worker threads its own."""
    from pipeline.outbox.drain import _Drain

    profiles: list[cProfile.Profile] = []
    work = _Drain.work

    def profiled(self, campaign_ids):
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.runcall(work, self, campaign_ids)

    _Drain.work = profiled
    return profiles


def main() -> None:
    # Imported here, not at the top: the sending processes, started with multiprocessing's
    # spawn, import this script again and need none of it.
    import httpx
    from local_baseline import measure_accept_rate, prebuilt_body
    from sqlalchemy import text

    from pipeline.campaigns.actions import approve_campaign
    from pipeline.campaigns.sync import sync_campaigns
    from pipeline.config import load_settings
    from pipeline.content import sync_content
    from pipeline.delivery.backends import open_outbox_backend
    from pipeline.models import Recipient
    from pipeline.outbox import drain_outbox, outbox_summary, start_campaign
    from pipeline.render.message import recipient_values
    from pipeline.store import open_engine, upgrade
    from pipeline.store.outbox import load_rendered_variant

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument(
        "--processes",
        type=int,
        default=os.cpu_count() or 1,
        help="Sending processes ([delivery] processes); default: one per CPU.",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="Drain threads ([delivery] concurrency); default: three per sending process.",
    )
    parser.add_argument("--baseline-requests", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="Print the drain's top functions.")
    parser.add_argument(
        "--start-only", action="store_true", help="Seed and start the campaign; no hand-off."
    )
    options = parser.parse_args()
    options.concurrency = options.concurrency or 3 * options.processes

    print(f"machine: {machine()}")
    root = Path(tempfile.mkdtemp(prefix="clinicmail-bench-send-"))
    workspace = make_workspace(root, options.concurrency, options.processes)
    os.environ.update(
        {
            "CLINICMAIL_DATABASE_URL": f"sqlite:///{root / 'bench.db'}",
            "CLINICMAIL_SECRET_KEY": "benchmark-secret-key-not-for-production",
            "CLINICMAIL_DELIVERY_BACKEND": "sendgrid",
            "CLINICMAIL_PUBLIC_URL": "https://harbourside-clinic.example",
            "SENDGRID_API_KEY": API_KEY,
        }
    )
    try:
        server, url = start_server(workspace)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        os.environ["SENDGRID_API_HOST"] = url
        settings = load_settings(workspace)
        engine = open_engine(settings.database_url)
        upgrade(engine)
        sync_content(engine, settings)
        started = time.perf_counter()
        with engine.begin() as conn:
            now = "2026-11-01 09:00:00.000000"
            conn.execute(text(SEED_CONTACTS), {"count": options.recipients, "now": now})
        print(f"seeded {options.recipients:,} contacts in {time.perf_counter() - started:.1f} s")
        sync_campaigns(engine, settings)
        approve_campaign(engine, SLUG, "benchmark")

        with timed_statements(engine) as statements:
            started = time.perf_counter()
            report = start_campaign(engine, settings, SLUG)
            start_seconds = time.perf_counter() - started
        materialise_seconds = sum(
            seconds for sql, seconds in statements if sql.startswith("INSERT INTO sends")
        )
        # The plan counts the same audience with the same CASE before anything is written: the
        # cost of deciding who gets which variant, without the writes.
        plan_seconds = sum(
            seconds for sql, seconds in statements if "variant, count(*)" in " ".join(sql.split())
        )
        segments = {name: sum(counts.values()) for name, counts in report.variants.items()}
        print(
            f"materialise {report.audience:,} sends (one INSERT … SELECT): "
            f"{materialise_seconds:.2f} s"
        )
        print(
            f"baseline: the plan's count of the same audience (same CASE, no writes): "
            f"{plan_seconds:.2f} s; ratio materialise / count: "
            f"{materialise_seconds / plan_seconds:.2f}"
        )
        print(
            "start as a whole (plan, render, check, store variants, materialise): "
            f"{start_seconds:.2f} s"
        )
        print(f"sends per variant: {segments}")

        if options.start_only:
            print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")
            return
        loop_before = python_loop_seconds()
        backend = open_outbox_backend(settings)
        profiles = profile_worker_threads() if options.profile else []
        children = sending_children(exclude=server.pid)
        children_cpu_before = sum(cpu_seconds(pid) or 0 for pid in children)
        server_cpu_before, own_cpu_before = cpu_seconds(server.pid), time.process_time()
        started = time.perf_counter()
        drained = drain_outbox(engine, settings, backend, report.campaign_id)
        drain_seconds = time.perf_counter() - started
        own_cpu = time.process_time() - own_cpu_before
        children_cpu = sum(cpu_seconds(pid) or 0 for pid in children) - children_cpu_before
        children_rss = [peak_rss_of(pid) for pid in children]
        server_cpu_after = cpu_seconds(server.pid)
        loop_after = python_loop_seconds()
        server_cpu = (
            None
            if server_cpu_before is None or server_cpu_after is None
            else server_cpu_after - server_cpu_before
        )
        backend.close()
        summary = outbox_summary(engine, SLUG)
        accepted = httpx.get(f"{url}/_local/stats").json()["accepted_recipients"]
        if accepted != report.audience or summary.counts.get("sent") != report.audience:
            raise SystemExit(
                f"the server accepted {accepted:,} of {report.audience:,} ({summary.counts})"
            )
        rate = drained.handed_off / drain_seconds

        with engine.connect() as conn:
            rendered = load_rendered_variant(conn, 1)
        recipients = [
            Recipient(n, f"baseline{n}@example.com",
                      recipient_values(settings, n, f"baseline{n}@example.com", "Client", n))
            for n in range(1000)
        ]  # fmt: skip
        body = prebuilt_body(settings, rendered, recipients)
        baseline = measure_accept_rate(
            url, body, 1000, requests=options.baseline_requests,
            concurrency=options.concurrency, api_key=API_KEY,
        )  # fmt: skip
        engine.dispose()
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(root, ignore_errors=True)

    print(
        f"concurrency: {options.concurrency} threads, "
        + (
            f"{options.processes} sending processes, "
            if options.processes > 1
            else "no sending processes (the outbox process sends), "
        )
        + f"batches of {settings.delivery.batch_size}"
    )
    print(f"request body: {len(body) / 1e6:.2f} MB per 1,000 recipients")
    print(f"hand-off: {drained.handed_off:,} recipients in {drain_seconds:.1f} s = {rate:,.0f}/s")
    print(f"baseline (server accepting pre-built bodies): {baseline.recipients_per_second:,.0f}/s")
    print(f"ratio hand-off / baseline: {rate / baseline.recipients_per_second:.2f}")
    per_recipient = 1e6 / max(drained.handed_off, 1)
    print(
        f"CPU during the hand-off: sending process {own_cpu:.1f} s "
        f"({own_cpu * per_recipient:.0f} us per recipient, {own_cpu / drain_seconds:.0%} of a core)"
        + (
            f", {len(children)} sending processes {children_cpu:.1f} s "
            f"({children_cpu * per_recipient:.0f} us per recipient, "
            f"{children_cpu / drain_seconds:.0%} of a core)"
            if children
            else ""
        )
        + (
            f", local server {server_cpu:.1f} s ({server_cpu * per_recipient:.0f} us per "
            f"recipient, {server_cpu / drain_seconds:.0%} of a core)"
            if server_cpu is not None
            else ""
        )
    )
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(
        "host speed: sum(range(30,000,000)) took "
        f"{loop_before:.2f} s before the hand-off and {loop_after:.2f} s after"
    )
    sending_rss = peak_rss_mb() + sum(children_rss)
    print(
        f"peak RSS of this process: {peak_rss_mb():.0f} MB"
        + (
            f"; with its sending processes ({', '.join(f'{rss:.0f}' for rss in children_rss)} MB):"
            f" {sending_rss:.0f} MB"
            if children_rss
            else ""
        )
    )
    targets = [
        ("materialise <= 10 s", materialise_seconds <= 10),
        ("hand-off >= 50,000/s", rate >= 50_000),
        ("peak RSS (all sending processes) <= 300 MB", sending_rss <= 300),
    ]
    print("targets: " + ", ".join(f"{name}: {'met' if ok else 'NOT met'}" for name, ok in targets))
    if profiles:
        pstats.Stats(*profiles).sort_stats("tottime").print_stats(30)
        pstats.Stats(*profiles).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
