"""Benchmark: importing a booking system's export of 100,000 clients into a fresh SQLite
database (and PostgreSQL with --database-url), then importing it again (every row merges with
a stored contact and is unchanged).

Baselines in the same run, over the same file: a plain csv.reader pass (the least any import
must do) and a bare executemany INSERT of the raw rows into a table of the same columns (the
least any database write must do). The ratios say what validation, normalisation, merging and
consent bookkeeping cost on top. Peak memory is the process's maximum resident set size.

    .venv/bin/python bench/bench_contacts_import.py                      # 100,000 rows, SQLite
    .venv/bin/python bench/bench_contacts_import.py --rows 20000
    .venv/bin/python bench/bench_contacts_import.py --database-url postgresql://user@host/db
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import random
import resource
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlalchemy import Column, Integer, MetaData, Table, Text, insert  # noqa: E402

from pipeline.contacts.importer import import_contacts  # noqa: E402
from pipeline.store import open_engine, upgrade  # noqa: E402

FIRST = ("Amelia", "Oliver", "Isla", "Harry", "Ava", "Noah", "Zoë", "Seán", "Mia", "Leo", "Chloé",
         "Arjun", "Freya", "Kwame", "Ella", "Tomasz")  # fmt: skip
LAST = ("Smith", "Jones", "Taylor", "Brown", "O'Neill", "Williams", "Patel", "Nowak", "Evans",
        "Wright", "Müller", "Okafor", "Khan", "Hughes", "Brontë", "Ó Briain")  # fmt: skip
JOBS = ("Software Developer", "Nurse", "Accountant", "Teacher", "Electrician", "Office Manager",
        "Retired", "Student", "Chef", "Solicitor", "")  # fmt: skip
TAGS = ("", "", "runner", "cyclist; vip", "post-op", "Desk Worker", "newsletter-2024")
DOMAINS = ("example.org", "Example.com", "mail.example.net", "example.co.uk", "bücher.example")
CONSENT = ("Yes", "Yes", "Yes", "Yes", "No", "")
HEADINGS = ["Client ID", "First Name", "Last Name", "Email Address", "Mobile", "Date of Birth",
            "Occupation", "Tags", "Marketing Consent", "Last Visit", "Surgery Date",
            "Notes"]  # fmt: skip


def machine() -> str:
    return (
        f"{platform.platform()} | {os.cpu_count()} CPUs | Python {platform.python_version()} | "
        f"{platform.processor() or platform.machine()}"
    )


def ascii_name(name: str) -> str:
    """A name as people put it in their address: accents and spaces dropped ("Brontë": bronte)."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(character for character in folded if character.isalnum())


def write_export(path: Path, rows: int) -> None:
    """A booking-system export as Excel writes it: UTF-8 with a BOM, CRLF, quoted notes with
    line breaks, about 2% duplicate addresses in other case and 0.5% bad addresses."""
    pick = random.Random(42).choice
    chance = random.Random(43).random
    earlier: list[tuple[str, str, str, str, str]] = []
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(HEADINGS)
        for number in range(rows):
            first, last = pick(FIRST), pick(LAST)
            email = f"{ascii_name(first)}.{ascii_name(last)}.{number}@{pick(DOMAINS)}"
            job, consent = pick(JOBS), pick(CONSENT)
            if chance() < 0.005:
                email = email.replace("@", "")
            elif earlier and chance() < 0.02:
                # The same client booked again and typed their address in capitals.
                first, last, email, job, consent = pick(earlier)
                email = email.upper()
            else:
                earlier.append((first, last, email, job, consent))
            writer.writerow([
                number, first, last, email, f"07700 9{number % 100000:05d}",
                f"{1 + number % 28:02d}/{1 + number % 12:02d}/{1950 + number % 55}", job,
                pick(TAGS), consent, f"2025-{1 + number % 12:02d}-{1 + number % 28:02d}",
                f"{1 + number % 28:02d}/{1 + number % 12:02d}/2025" if chance() < 0.2 else "",
                "Prefers mornings\r\nNo deep tissue on the left calf" if chance() < 0.05 else "",
            ])  # fmt: skip


def baseline_csv_reader(path: Path) -> tuple[float, float]:
    start, cpu_start = time.perf_counter(), time.process_time()
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for _row in csv.reader(handle):
            pass
    return time.perf_counter() - start, time.process_time() - cpu_start


def baseline_bare_insert(path: Path, url: str) -> tuple[float, float]:
    """csv.reader plus an executemany INSERT of the raw cells, in chunks of 2,000, no checks."""
    engine = open_engine(url)
    table = Table("bench_raw_rows", MetaData(), Column("id", Integer, primary_key=True),
                  *(Column(f"c{index}", Text) for index in range(len(HEADINGS))))  # fmt: skip
    table.drop(engine, checkfirst=True)
    table.create(engine)
    start, cpu_start = time.perf_counter(), time.process_time()
    with engine.begin() as conn, path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        chunk = []
        for row in reader:
            chunk.append({f"c{index}": cell for index, cell in enumerate(row)})
            if len(chunk) == 2000:
                conn.execute(insert(table), chunk)
                chunk = []
        if chunk:
            conn.execute(insert(table), chunk)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    table.drop(engine)
    engine.dispose()
    return elapsed, cpu


def timed_import(path: Path, url: str):
    """Wall-clock and CPU seconds of one import: on a shared machine the CPU time shows the
    work done even when other processes hold the cores."""
    engine = open_engine(url)
    start, cpu_start = time.perf_counter(), time.process_time()
    report = import_contacts(engine, path)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    engine.dispose()
    return elapsed, cpu, report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", help="an empty database (default: a new SQLite file)")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"load average before the run: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "clients.csv"
        write_export(path, args.rows)
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = open_engine(url)
        upgrade(engine)
        engine.dispose()
        size_mb = path.stat().st_size / 1e6
        print(f"file: {args.rows:,} rows, {size_mb:.1f} MB; database: {url.split(':')[0]}")
        reader_s, reader_cpu = baseline_csv_reader(path)
        insert_s, insert_cpu = baseline_bare_insert(path, url)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        first_s, first_cpu, first = timed_import(path, url)
        again_s, again_cpu, again = timed_import(path, url)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"baseline csv.reader:          {reader_s:7.2f} s  (CPU {reader_cpu:.2f} s)")
    print(f"baseline bare executemany:    {insert_s:7.2f} s  (CPU {insert_cpu:.2f} s)")
    print(
        f"import into an empty db:      {first_s:7.2f} s  (CPU {first_cpu:.2f} s; "
        f"{args.rows / first_s:,.0f} rows/s; "
        f"created {first.created:,}, updated {first.updated:,}, rejected {len(first.rejected):,})"
    )
    print(
        f"same file again (merge):      {again_s:7.2f} s  (CPU {again_cpu:.2f} s; "
        f"unchanged {again.unchanged:,}, "
        f"updated {again.updated:,})"
    )
    print(
        f"ratio import / csv.reader:    {first_s / reader_s:7.1f}x wall, "
        f"{first_cpu / reader_cpu:.1f}x CPU"
    )
    print(
        f"ratio import / bare insert:   {first_s / insert_s:7.1f}x wall, "
        f"{first_cpu / insert_cpu:.1f}x CPU"
    )
    print(f"peak RSS: {rss_after:.0f} MB (before the imports {rss_before:.0f} MB)")


if __name__ == "__main__":
    main()
