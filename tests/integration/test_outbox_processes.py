"""Sending processes ([delivery] processes above 1) on a real database (SQLite, then PostgreSQL):
the children personalise and send, this process claims and records, and every recipient is
handed off exactly once, to a real local SendGrid-compatible server or as .eml files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager

import pytest

from pipeline.delivery.backends import open_backend, open_outbox_backend
from pipeline.delivery.file import FileBackend
from pipeline.delivery.processes import SendingProcesses
from pipeline.delivery.sendgrid import SendGridBackend
from pipeline.devserver.server import LocalSendGridServer
from pipeline.errors import DeliveryError
from pipeline.outbox import drain_outbox
from pipeline.store import utcnow
from pipeline.store.sends import reconcile_unknown
from tests.outbox_fakes import (
    add_campaign,
    add_contacts,
    add_variant,
    outbox_settings,
    queue_everyone,
    record_processed_events,
    statuses,
)
from tests.waiting import wait_for

API_KEY = "SG.processes-test"
CHILD_HEAVY_MODULES = (
    "sorted({m.split('.')[0] for m in __import__('sys').modules}"
    " & {'sqlalchemy', 'jinja2', 'mrml', 'httpx', 'fastapi'})"
)


@pytest.fixture
def settings(workspace, database_url, monkeypatch):
    monkeypatch.setenv("CLINICMAIL_DATABASE_URL", database_url)
    return outbox_settings(
        workspace, batch_size=40, concurrency=3, processes=2, reconcile_after_seconds=0
    )


def _campaign(engine, contacts: int) -> int:
    with engine.begin() as conn:
        add_contacts(conn, contacts)
        campaign = add_campaign(conn, "spring")
        queue_everyone(conn, campaign, add_variant(conn, campaign, "general"))
    return campaign


@contextmanager
def sending_processes(
    settings, tmp_path, api_key: str = API_KEY
) -> Iterator[tuple[LocalSendGridServer, SendingProcesses]]:
    """The local SendGrid server, and two sending processes posting to it with `api_key`."""
    with LocalSendGridServer(store_dir=tmp_path / "sendgrid", api_key=API_KEY) as server:
        inline = SendGridBackend(settings, api_host=server.url, api_key=api_key)
        backend = SendingProcesses(settings, inline, processes=2)
        try:
            yield server, backend
        finally:
            backend.close()


def test_the_outbox_backend_has_sending_processes_when_configured(settings):
    delivery = settings.delivery.model_copy(update={"backend": "file"})
    backend = open_outbox_backend(settings.model_copy(update={"delivery": delivery}))
    try:
        assert isinstance(backend, SendingProcesses)
        assert isinstance(backend.inline, FileBackend)
        assert backend.processes == 2 and len(backend.child_pids()) == 2
    finally:
        backend.close()
    single = open_backend(settings.model_copy(update={"delivery": delivery}))
    assert isinstance(single, FileBackend), "test sends and reports never start processes"


def test_children_send_through_the_local_server_each_recipient_once(engine, settings, tmp_path):
    campaign = _campaign(engine, 300)
    with sending_processes(settings, tmp_path) as (server, backend):
        report = drain_outbox(engine, settings, backend, campaign)
        # What the batches brought with them did not make a child import the database layer
        # (a named tuple's class would): ask a child what it has loaded.
        assert backend._pool.submit(eval, CHILD_HEAVY_MODULES).result() == []
        personalizations = [p for _, body in server.accepted for p in body["personalizations"]]
    send_ids = Counter(p["custom_args"]["send_id"] for p in personalizations)
    assert len(send_ids) == 300 and set(send_ids.values()) == {1}
    assert (report.sent, report.handed_off) == (300, 300)
    with engine.connect() as conn:
        assert statuses(conn, campaign) == {"sent": 300}
    # The children made the links: each recipient's own, signed for this workspace.
    first = personalizations[0]
    assert first["headers"]["List-Unsubscribe"].startswith(f"<{settings.web.public_url}/u/")


def test_file_backend_children_write_one_message_per_send(engine, settings):
    campaign = _campaign(engine, 120)
    backend = SendingProcesses(settings, FileBackend(settings), processes=2)
    try:
        drain_outbox(engine, settings, backend, campaign)
    finally:
        backend.close()
    written = sorted(int(path.stem) for path in (settings.var_dir / "outbox").rglob("*.eml"))
    with engine.connect() as conn:
        assert statuses(conn, campaign) == {"sent": 120}
    assert len(written) == 120 == len(set(written))


def test_a_child_killed_mid_campaign_loses_and_duplicates_nobody(engine, settings, tmp_path):
    """Sending processes killed with SIGKILL while the server holds a request it accepted: the
    batches in hand are settled as unknown (they may have gone out), the drain stops, and once
    the provider's events are in, reconciliation and the next drain send only what never left."""
    campaign = _campaign(engine, 200)
    with sending_processes(settings, tmp_path) as (server, backend):
        server.time_out_next(accepted=True, hold_seconds=30)
        doomed = backend.child_pids()

        def kill_once_a_request_is_held() -> None:
            wait_for(lambda: server.accepted, "the server to hold an accepted request", poll=0.01)
            for pid in doomed:
                os.kill(pid, signal.SIGKILL)

        killer = threading.Thread(target=kill_once_a_request_is_held)
        killer.start()
        with pytest.raises(BrokenProcessPool):
            drain_outbox(engine, settings, backend, campaign)
        killer.join()
        with engine.connect() as conn:
            counts = statuses(conn, campaign)
        assert "sending" not in counts and counts["unknown"] >= 40
        record_processed_events(engine, settings, [int(n) for n in _accepted(server)])
        with engine.begin() as conn:
            reconcile_unknown(conn, campaign, utcnow())
        # The same backend carries on: the dead children's pool was replaced.
        assert not set(doomed) & set(backend.child_pids())
        drain_outbox(engine, settings, backend, campaign)
        accepted = _accepted(server)
    assert len(accepted) == 200
    assert set(accepted.values()) == {1}, "a recipient was sent twice"
    with engine.connect() as conn:
        assert statuses(conn, campaign) == {"sent": 200}


def test_a_refused_api_key_stops_the_drain_and_keeps_the_queue(engine, settings, tmp_path):
    """SendGrid refusing the key inside a child reaches the outbox as the same DeliveryError it
    gets from a backend in its own threads: nothing is lost, nothing is marked failed."""
    campaign = _campaign(engine, 50)
    refused = pytest.raises(DeliveryError, match="SendGrid refused the request \\(401\\)")
    with sending_processes(settings, tmp_path, api_key="SG.revoked") as (_, backend), refused:
        drain_outbox(engine, settings, backend, campaign)
    with engine.connect() as conn:
        assert set(statuses(conn, campaign)) == {"queued"}


def test_a_child_that_died_between_batches_is_replaced_before_the_next(engine, settings, tmp_path):
    campaign = _campaign(engine, 100)
    with sending_processes(settings, tmp_path) as (server, backend):
        dead = backend.child_pids()[0]
        os.kill(dead, signal.SIGKILL)
        # The executor notices a dead child on its own thread; wait until it has.
        wait_for(lambda: backend._pool._broken, "the pool to notice the dead child", poll=0.01)
        report = drain_outbox(engine, settings, backend, campaign)
        assert dead not in backend.child_pids()
        accepted = _accepted(server)
    assert report.sent == 100 and report.unknown == 0
    assert len(accepted) == 100 and set(accepted.values()) == {1}


def _accepted(server: LocalSendGridServer) -> Counter[str]:
    """How many times the server accepted each send id."""
    return Counter(
        p["custom_args"]["send_id"] for _, body in server.accepted for p in body["personalizations"]
    )


def test_a_sending_process_loads_no_compiler_templates_or_database_layer():
    """What a child imports is what it holds in memory for as long as it lives: the command's
    script (which spawn imports again in every child), the sending code and the SendGrid
    backend must not pull in the CLI, the web app, the compiler or the database layer."""
    check = (
        "import sys, pipeline.entry, pipeline.delivery.processes, pipeline.delivery.sendgrid;"
        "heavy = [m for m in ('pipeline.cli', 'fastapi', 'pipeline.render.compile',"
        " 'pipeline.content', 'jinja2', 'mrml', 'sqlalchemy', 'trafilatura', 'httpx',"
        " 'pipeline.devserver.server') if m in sys.modules];"
        "print(heavy)"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
