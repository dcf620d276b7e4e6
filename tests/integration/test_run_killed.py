"""`clinicmail run` killed while its local SendGrid-compatible server holds an accepted request
(finding 6), ten times over one campaign: afterwards every client was mailed once and every
accepted email's events reached the app. The server keeps accepted requests and unsent events
on disk and posts them after its restart; the worker settles the unanswered batch from them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from pipeline.cli import main
from pipeline.store import open_engine
from pipeline.store.tables import campaigns, events, sends
from tests.clinic_config import send_any_time, set_settings
from tests.ports import free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.slow
SLUG = "full-treatment-for-back-pain"
CONTACTS = 400
KILLS = 10


@pytest.fixture
def clinic(workspace: Path, monkeypatch) -> Path:
    """The sample workspace sending in batches of 20, one at a time, with short timeouts, its
    campaign approved and due now, and 400 fictional clients."""
    config = workspace / "clinic.toml"
    send_any_time(config)
    set_settings(config, "delivery", timeout_seconds="2", batch_size="20", concurrency="1")
    (workspace / "campaigns" / "monthly-digest.yaml").unlink()
    # Long enough for a restarted server's events to arrive first; short enough for the test.
    monkeypatch.setenv("CLINICMAIL_RECONCILE_AFTER", "20")
    runner = CliRunner()

    def cli(*args: str) -> None:
        result = runner.invoke(main, ["--workspace", str(workspace), *args])
        assert result.exit_code == 0, result.output

    cli("db", "upgrade")
    cli("content", "sync")
    cli("demo", "seed", "--contacts", str(CONTACTS))
    cli("sync")
    cli("campaign", "approve", SLUG, "--by", "test")
    soon = datetime.now(ZoneInfo("Europe/London")) + timedelta(seconds=2)
    cli("campaign", "schedule", SLUG, "--at", soon.strftime("%Y-%m-%d %H:%M:%S"))
    return workspace


class Run:
    """One `clinicmail run` in a process group of its own (run, worker, local server)."""

    def __init__(self, workspace: Path, port: int, sendgrid_port: int) -> None:
        self.sendgrid = f"http://127.0.0.1:{sendgrid_port}"
        self.log = (workspace / "run.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from pipeline.entry import run; run()",
                "--workspace",
                str(workspace),
                "run",
                "--port",
                str(port),
                "--sendgrid-port",
                str(sendgrid_port),
                "--demo-contacts",
                "0",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def local_stats(self) -> dict | None:
        try:
            return httpx.get(f"{self.sendgrid}/_local/stats", timeout=2).json()
        except httpx.HTTPError:
            return None

    def kill(self) -> None:
        """SIGKILL to the whole group: nothing gets to clean up."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.log.close()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)
        self.log.close()


def _mailed(workspace: Path) -> Counter[str]:
    """How many times the local server accepted each address (its mail folder)."""
    counts: Counter[str] = Counter()
    for path in (workspace / "var" / "local-sendgrid" / "mail").glob("*.json"):
        document = json.loads(path.read_bytes())
        for personalization in document["personalizations"]:
            counts.update(to["email"] for to in personalization["to"])
    return counts


def _settled(engine) -> bool:
    with engine.connect() as conn:
        state = conn.execute(select(campaigns.c.state).where(campaigns.c.slug == SLUG)).scalar()
        open_sends = conn.execute(
            select(func.count())
            .select_from(sends)
            .where(sends.c.status.in_(("queued", "sending", "unknown")))
        ).scalar_one()
    return state == "sent" and open_sends == 0


@pytest.mark.timeout(900)
def test_a_run_killed_ten_times_mails_everyone_once_and_loses_no_event(clinic):
    port, sendgrid_port = free_port(), free_port()
    held_total = 0
    for _ in range(KILLS):
        run = Run(clinic, port, sendgrid_port)
        try:
            wait_for(run.local_stats, "the local server to start", 120)
            # The next request is recorded, then its answer held: killed while holding it.
            httpx.post(
                f"{run.sendgrid}/_local/faults",
                json={"timeout": "accepted", "count": 1, "hold_seconds": 300},
                timeout=5,
            )
            wait_for(
                lambda run=run: (run.local_stats() or {}).get("pending_faults") == 0,
                "the worker to send a batch",
                120,
            )
            # The held request is on disk once the server counted it; a moment for the write.
            wait_for(
                lambda run=run: (run.local_stats() or {}).get("accepted_requests", 0) >= 1,
                "the held request to be accepted",
                30,
            )
            time.sleep(0.2)
            held_total += 1
        finally:
            run.kill()

    final = Run(clinic, port, sendgrid_port)
    engine = open_engine(f"sqlite:///{clinic / 'var' / 'clinicmail.db'}")
    try:
        wait_for(lambda: _settled(engine), "the campaign to be sent and settled", 300, poll=1)
        mailed = _mailed(clinic)
        with engine.connect() as conn:
            audience = conn.execute(
                select(func.count()).select_from(sends).where(sends.c.status != "skipped")
            ).scalar_one()

        def processed() -> int:
            with engine.connect() as conn:
                return conn.execute(
                    select(func.count(func.distinct(events.c.send_id))).where(
                        events.c.event == "processed"
                    )
                ).scalar_one()

        wait_for(lambda: processed() >= len(mailed), "every accepted email's events", 120, 1)
        with_events = processed()
    finally:
        final.stop()
        engine.dispose()
    assert held_total == KILLS
    assert [email for email, times in mailed.items() if times > 1] == []
    assert len(mailed) == audience
    assert with_events == len(mailed)
