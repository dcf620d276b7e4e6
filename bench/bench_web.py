"""Benchmark: how long the heaviest staff pages take to serve, in process, over a SQLite database
with the sample content, demo clients and one campaign made from an article.

The baseline in the same run is the sign-in page (template rendering, session cookie and
security headers, no database work), so each ratio says what a page's own work costs: the
dashboard (overview, daily series, one SVG chart per segment), a campaign's page (plan, every
variant rendered with mrml and checked) and one preview frame (plan and one variant).

    .venv/bin/python bench/bench_web.py                  # 2,000 demo clients, 20 requests each
    .venv/bin/python bench/bench_web.py --contacts 20000 --requests 10
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient  # noqa: E402

from pipeline.config import load_settings  # noqa: E402
from pipeline.content import sync_content  # noqa: E402
from pipeline.demo import seed_demo_contacts  # noqa: E402
from pipeline.store import open_engine, upgrade  # noqa: E402
from pipeline.web.app import create_app  # noqa: E402
from pipeline.web.auth import add_user  # noqa: E402
from pipeline.web.staff.campaign_preview import create_web_campaign  # noqa: E402

PASSWORD = "benchmark password"


def _median_ms(client: TestClient, path: str, requests: int) -> float:
    client.get(path)  # warm caches (templates, fonts, the segments file)
    timings = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(path)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, (path, response.status_code)
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=20)
    options = parser.parse_args()
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "clinic"
        root.mkdir()
        shutil.copy(REPO / "clinic.toml", root / "clinic.toml")
        for name in ("content", "campaigns", "templates"):
            shutil.copytree(REPO / name, root / name)
        os.environ["CLINICMAIL_DATABASE_URL"] = f"sqlite:///{root / 'bench.db'}"
        os.environ["CLINICMAIL_SECRET_KEY"] = "benchmark-secret"
        settings = load_settings(root)
        engine = open_engine(settings.database_url)
        upgrade(engine)
        sync_content(engine, settings)
        seed_demo_contacts(engine, options.contacts)
        add_user(engine, "owner@clinic.example", "owner", PASSWORD)
        slug = create_web_campaign(
            engine,
            settings,
            article_slug="full-treatment-for-back-pain",
            name="",
            segments=[],
            created_by="owner@clinic.example",
        )
        app = create_app(settings, engine)
        with TestClient(app, base_url="http://127.0.0.1:8000") as client:
            baseline = _median_ms(client, "/login", options.requests)
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)[1]
            client.post(
                "/login",
                data={"email": "owner@clinic.example", "password": PASSWORD, "csrf_token": token},
            )
            pages = {
                "dashboard /": "/",
                "campaign page": f"/campaigns/{slug}",
                "one preview frame": f"/campaigns/{slug}/preview/general",
                "contacts page": "/contacts",
            }
            print(f"{options.contacts:,} contacts; median of {options.requests} requests each")
            print(f"baseline (sign-in page): {baseline:.1f} ms")
            for label, path in pages.items():
                took = _median_ms(client, path, options.requests)
                print(f"{label}: {took:.1f} ms  ratio {took / baseline:.1f}")
        engine.dispose()


if __name__ == "__main__":
    main()
