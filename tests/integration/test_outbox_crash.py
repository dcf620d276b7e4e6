"""Exactly once over real HTTP, on SQLite and PostgreSQL: the SendGrid backend sends to the local
SendGrid-compatible server, whose signed Event Webhook posts reach the app (uvicorn) and are
stored; a worker process is killed with SIGKILL mid-campaign and restarted, and 429s, 500s and
timeouts are injected. Every recipient must reach the server exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
import uvicorn
from sqlalchemy import select

from pipeline.campaigns.actions import approve_campaign
from pipeline.campaigns.sync import sync_campaigns
from pipeline.config import WEBHOOK_PATH, load_settings
from pipeline.content import sync_content
from pipeline.delivery.sendgrid import SendGridBackend
from pipeline.demo import seed_demo_contacts
from pipeline.devserver.server import LocalSendGridServer
from pipeline.outbox import drain_outbox, start_campaign
from pipeline.store import open_engine
from pipeline.store.tables import campaigns, contacts, sends
from pipeline.web.app import create_app
from tests.clinic_config import send_any_time, set_settings
from tests.ports import free_port
from tests.waiting import wait_for

SLUG = "full-treatment-for-back-pain"
API_KEY = "SG.outbox-test"
CLINICMAIL = Path(sys.executable).with_name("clinicmail")


@pytest.fixture
def stack(workspace_db, monkeypatch):
    """A workspace sending with the sendgrid backend to a local server on a real port, whose
    webhook posts reach the app served by uvicorn; the sample campaign approved, 1,500 clients.
    Yields (workspace, server, engine, environment for a worker process)."""
    config = workspace_db / "clinic.toml"
    send_any_time(config)
    set_settings(config, "delivery", timeout_seconds="1", batch_size="50", concurrency="2")
    app_port = free_port()
    server = LocalSendGridServer(
        webhook_url=f"http://127.0.0.1:{app_port}{WEBHOOK_PATH}", api_key=API_KEY
    )
    environment = {
        "SENDGRID_WEBHOOK_PUBLIC_KEY": server.public_key,
        "SENDGRID_API_KEY": API_KEY,
        "CLINICMAIL_DELIVERY_BACKEND": "sendgrid",
        # Links in the emails must look reachable for the checks to let a real backend send.
        "CLINICMAIL_PUBLIC_URL": "https://harbourside-clinic.example",
        "CLINICMAIL_RECONCILE_AFTER": "3",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    server.start()
    monkeypatch.setenv("SENDGRID_API_HOST", server.url)
    settings = load_settings(workspace_db)
    engine = open_engine(settings.database_url)
    app = create_app(settings, engine)
    receiver = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=app_port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=receiver.run, daemon=True)
    thread.start()
    wait_for(lambda: receiver.started, "the app to start", 20)
    sync_content(engine, settings)
    seed_demo_contacts(engine, 1500)
    sync_campaigns(engine, settings)
    approve_campaign(engine, SLUG, "owner@example.com")
    yield workspace_db, server, engine, {**os.environ}
    server.stop()
    receiver.should_exit = True
    thread.join(timeout=20)
    engine.dispose()


def _received(server: LocalSendGridServer) -> Counter[str]:
    """How many times the server accepted each address."""
    return Counter(
        to["email"]
        for _, document in server.accepted
        for personalization in document["personalizations"]
        for to in personalization["to"]
    )


def _audience(engine) -> set[str]:
    with engine.connect() as conn:
        return set(
            conn.execute(
                select(contacts.c.email)
                .join(sends, sends.c.contact_id == contacts.c.id)
                .where(sends.c.status.not_in(("skipped",)))
            ).scalars()
        )


def _open_sends(engine) -> int:
    with engine.connect() as conn:
        return len(
            conn.execute(
                select(sends.c.id).where(sends.c.status.in_(("queued", "sending", "unknown")))
            ).all()
        )


def _worker(workspace: Path, environment: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            str(CLINICMAIL),
            "--workspace",
            str(workspace),
            "campaign",
            "send",
            SLUG,
            "--now",
            "--json",
        ],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_worker_killed_mid_campaign_and_restarted_delivers_everyone_once(stack):
    workspace, server, engine, environment = stack
    # Paced, so that the kill lands while most of the audience is still to go.
    environment = {**environment}
    config = workspace / "clinic.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            "rate_limit_per_second = 0", "rate_limit_per_second = 500"
        ),
        encoding="utf-8",
    )
    first = _worker(workspace, environment)
    wait_for(lambda: server.accepted_recipients >= 300, "the first worker to hand off 300")
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    audience = _audience(engine)
    assert first.returncode == -signal.SIGKILL
    assert server.accepted_recipients < len(audience), "the kill came after the last batch"
    assert _open_sends(engine) > 0

    second = _worker(workspace, environment)
    out, err = second.communicate(timeout=180)
    assert second.returncode == 0, err
    summary = json.loads(out)
    assert summary["started"] is False and summary["state"] == "sent"
    received = _received(server)
    assert set(received) == audience
    assert [email for email, times in received.items() if times > 1] == []
    assert _open_sends(engine) == 0


def test_injected_429s_500s_and_timeouts_still_deliver_everyone_once(stack):
    workspace, server, engine, _ = stack
    settings = load_settings(workspace)
    server.fail_next(2, status=429, retry_after=1)
    server.fail_next(2, status=500)
    server.time_out_next(2, accepted=True, hold_seconds=5)
    server.time_out_next(1, accepted=False, hold_seconds=5)
    start_campaign(engine, settings, SLUG)
    backend = SendGridBackend(settings)
    try:
        report = drain_outbox(engine, settings, backend, wait_for_unknown=True)
    finally:
        backend.close()
    # Four refused requests and three unanswered ones, of 50 recipients each (a loaded machine
    # can make a normal answer miss the 1 s timeout too: that is one more unknown batch).
    assert report.retried >= 200 and report.unknown >= 150
    assert report.requeued >= 50
    received = _received(server)
    assert set(received) == _audience(engine)
    assert [email for email, times in received.items() if times > 1] == []
    with engine.connect() as conn:
        assert (
            conn.execute(select(campaigns.c.state).where(campaigns.c.slug == SLUG)).scalar()
            == "sent"
        )
    assert _open_sends(engine) == 0
