"""Weekly-cap benchmark: what the per-contact cap on marketing email costs when a campaign starts.

Two campaigns to the same N clients (default 100,000) on SQLite, in a throwaway copy of the
sample workspace. The baseline is starting the first one, where no other campaign's email can
count, so the cap is not evaluated; the measured run is starting the second one right after,
where every client's cap is checked against the first campaign's queued emails (and all of them
are skipped). Both include the same plan, render and checks. Prints the machine and the ratio.

Run: .venv/bin/python bench/bench_schedule_cap.py [--clients 100000]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.campaigns.actions import approve_campaign  # noqa: E402
from pipeline.campaigns.sync import sync_campaigns  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.content import sync_content  # noqa: E402
from pipeline.demo import seed_demo_contacts  # noqa: E402
from pipeline.outbox import start_campaign  # noqa: E402
from pipeline.store import open_engine, upgrade  # noqa: E402

FIRST = "full-treatment-for-back-pain"
SECOND = "second-look"


def machine() -> str:
    return f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"


def workspace(folder: Path) -> Path:
    root = folder / "clinic"
    root.mkdir()
    shutil.copy(REPO / "clinic.toml", root / "clinic.toml")
    for name in ("content", "campaigns", "templates"):
        shutil.copytree(REPO / name, root / name)
    source = (root / "campaigns" / f"{FIRST}.yaml").read_text(encoding="utf-8")
    (root / "campaigns" / f"{SECOND}.yaml").write_text(
        source.replace("campaign: legs-back-pain", "campaign: second-look"), encoding="utf-8"
    )
    return root


def prepared(folder: Path, clients: int, *slugs: str):
    """A migrated workspace database with `clients` clients and `slugs` approved."""
    folder.mkdir()
    settings = load_settings(workspace(folder))
    settings = settings.model_copy(
        update={
            "database_url": f"sqlite:///{folder / 'clinicmail.db'}",
            "sending": settings.sending.model_copy(
                update={"weekly_cap": 1, "quiet_hours": "", "closure_dates": ()}
            ),
        }
    )
    engine = open_engine(settings.database_url)
    upgrade(engine)
    sync_content(engine, settings)
    seed_demo_contacts(engine, clients)
    sync_campaigns(engine, settings)
    for slug in slugs:
        approve_campaign(engine, slug, "benchmark")
    return engine, settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    options = parser.parse_args()
    os.environ.setdefault("CLINICMAIL_SECRET_KEY", "benchmark-secret-key-not-for-production")
    os.environ.pop("CLINICMAIL_DATABASE_URL", None)
    with tempfile.TemporaryDirectory(prefix="clinicmail-bench-cap-") as folder:
        # A small run first, so template compilation and imports are not billed to the baseline.
        warm_engine, warm_settings = prepared(Path(folder) / "warm-up", 1_000, FIRST)
        start_campaign(warm_engine, warm_settings, FIRST)
        warm_engine.dispose()
        engine, settings = prepared(Path(folder) / "measured", options.clients, FIRST, SECOND)
        began = time.perf_counter()
        first = start_campaign(engine, settings, FIRST)
        baseline = time.perf_counter() - began
        began = time.perf_counter()
        second = start_campaign(engine, settings, SECOND)
        measured = time.perf_counter() - began
        engine.dispose()
    print(f"machine: {machine()}")
    print(f"clients: {options.clients:,}; first campaign audience {first.audience:,}")
    print(f"baseline (start, cap not evaluated): {baseline:.2f} s")
    print(
        f"measured (start, cap checked for every client): {measured:.2f} s, "
        f"{second.audience:,} outbox rows (capped ones skipped)"
    )
    print(f"ratio measured/baseline: {measured / baseline:.2f}")


if __name__ == "__main__":
    main()
