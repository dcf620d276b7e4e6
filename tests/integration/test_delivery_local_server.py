"""The local SendGrid-compatible server over real HTTP: validation, signed Event Webhook posts
(verified and parsed by pipeline.tracking), demo engagement, its store, control endpoint and
benchmark mode, and the `local` backend that finds or starts it."""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path

import httpx
import pytest

from pipeline.delivery.backends import open_backend
from pipeline.delivery.sendgrid import SendGridBackend, request_body
from pipeline.devserver.backend import LocalBackend
from pipeline.devserver.events import DemoRates
from pipeline.devserver.mailstore import (
    get_local_message,
    list_local_messages,
)
from pipeline.devserver.server import LocalSendGridServer
from pipeline.errors import NotFoundError
from pipeline.tracking import SIGNATURE_HEADER, TIMESTAMP_HEADER, parse_events, verify_webhook
from tests.delivery_support import (
    BOOKING_URL,
    delivery_settings,
    recipients,
    rendered_variant,
    webhook_receiver,
)

AUTH = {"Authorization": "Bearer SG.any"}


def _events(posts: list, key: str) -> list:
    events = []
    for post in posts:
        headers = {name.lower(): value for name, value in post.headers.items()}
        signature = headers[SIGNATURE_HEADER.lower()]
        timestamp = headers[TIMESTAMP_HEADER.lower()]
        assert verify_webhook(key, signature, timestamp, post.body, 300)
        events.extend(parse_events(post.body))
    return events


def test_processed_and_delivered_are_posted_signed(workspace: Path, tmp_path: Path) -> None:
    settings = delivery_settings(workspace)
    with webhook_receiver() as (url, posts):
        with LocalSendGridServer(webhook_url=url, store_dir=tmp_path / "store") as server:
            backend = SendGridBackend(settings, api_host=server.url, api_key="SG.any")
            backend.send_batch(rendered_variant(), recipients(settings, 3))
            server.flush_webhooks()
            key = server.public_key
        events = _events(posts, key)
    assert sorted((event.send_id, event.event) for event in events) == [
        (send_id, name) for send_id in (1, 2, 3) for name in ("delivered", "processed")
    ]
    assert not any(event.simulated for event in events)
    assert (tmp_path / "store" / "webhook_public_key").read_text() == key


def test_demo_mode_simulates_engagement(workspace: Path) -> None:
    settings = delivery_settings(workspace)
    always = DemoRates(
        bounce=0, open=1, machine_open_share=0, click=1, booking_click_share=1, unsubscribe=1
    )
    with webhook_receiver() as (url, posts):
        server = LocalSendGridServer(
            webhook_url=url, demo=True, demo_rates=always, booking_url=BOOKING_URL, seed=7
        )
        with server:
            backend = SendGridBackend(settings, api_host=server.url, api_key="SG.any")
            backend.send_batch(rendered_variant(), recipients(settings, 4))
            server.flush_webhooks()
        events = _events(posts, server.public_key)
    simulated = [event for event in events if event.simulated]
    assert sorted({event.event for event in simulated}) == ["click", "open", "unsubscribe"]
    clicks = [event for event in simulated if event.event == "click"]
    # Followed as a mail client follows it: the HTML's "&amp;" is "&" in the clicked address.
    assert {event.url for event in clicks} == {
        BOOKING_URL + "?utm_source=clinicmail&utm_medium=email"
    }
    assert {event.send_id for event in simulated} == {1, 2, 3, 4}


def test_demo_bounces_replace_delivery(workspace: Path) -> None:
    settings = delivery_settings(workspace)
    bouncing = DemoRates(bounce=1, blocked_share=0)
    with webhook_receiver() as (url, posts):
        with LocalSendGridServer(webhook_url=url, demo=True, demo_rates=bouncing) as server:
            backend = SendGridBackend(settings, api_host=server.url, api_key="SG.any")
            backend.send_batch(rendered_variant(), recipients(settings, 2))
            server.flush_webhooks()
        events = _events(posts, server.public_key)
    assert sorted(event.event for event in events) == ["bounce", "bounce", "processed", "processed"]
    bounce = next(event for event in events if event.event == "bounce")
    assert bounce.simulated and bounce.bounce_type == "bounce"


def test_the_store_shows_each_recipients_email(workspace: Path) -> None:
    settings = delivery_settings(workspace)
    people = recipients(settings, 2, first_name="Jo & Co")
    with LocalSendGridServer.from_settings(settings, port=0, webhook_url=None) as server:
        backend = SendGridBackend(settings, api_host=server.url, api_key="SG.any")
        [first, _] = backend.send_batch(rendered_variant(), people)

    listed = list_local_messages(settings)
    assert [message.to for message in listed] == [people[1].email, people[0].email]
    assert listed[0].custom_args["send_id"] == "2" and listed[0].html == ""
    message = get_local_message(settings, f"{first.provider_message_id}-0")
    assert message.subject == "Why we massage your legs for back pain"
    assert "Hello Jo &amp; Co," in message.html and "Hello Jo & Co," in message.text
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert [m.to for m in list_local_messages(settings, limit=1, offset=1)] == [people[0].email]
    with pytest.raises(NotFoundError):
        get_local_message(settings, f"{first.provider_message_id}-5")
    with pytest.raises(NotFoundError):
        get_local_message(settings, "nothing-0")


def test_the_app_learns_the_local_key(workspace: Path) -> None:
    settings = delivery_settings(workspace)
    assert settings.webhook_verification_key() is None
    with LocalSendGridServer.from_settings(settings, port=0) as server:
        assert settings.webhook_verification_key() == server.public_key
    # The key is kept: a restarted server signs with the same one.
    with LocalSendGridServer.from_settings(settings, port=0) as again:
        assert again.public_key == server.public_key
    other = delivery_settings(workspace, backend="sendgrid")
    assert other.webhook_verification_key() is None


def test_invalid_bodies_get_sendgrid_style_errors() -> None:
    with LocalSendGridServer() as server:
        missing_from = {"personalizations": [{"to": [{"email": "a@example.com"}]}]}
        response = httpx.post(f"{server.url}/v3/mail/send", json=missing_from, headers=AUTH)
        assert response.status_code == 400
        assert any("from" in error["message"] for error in response.json()["errors"])
        response = httpx.post(f"{server.url}/v3/mail/send", content=b"{", headers=AUTH)
        assert response.status_code == 400
        response = httpx.post(f"{server.url}/v3/mail/send", json=missing_from)
        assert response.status_code == 401
        # Refused from its Content-Length, before a byte of the body is read.
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as raw:
            raw.sendall(
                b"POST /v3/mail/send HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
                b"Content-Length: 40000000\r\n\r\n"
            )
            assert raw.recv(100).startswith(b"HTTP/1.1 413 ")


def test_gzip_bodies_and_the_control_endpoint(workspace: Path) -> None:
    settings = delivery_settings(workspace)
    body = json.dumps(request_body(settings, rendered_variant(), recipients(settings, 2)))
    headers = {**AUTH, "Content-Encoding": "gzip", "Content-Type": "application/json"}
    with LocalSendGridServer() as server:
        control = httpx.post(f"{server.url}/_local/faults", json={"status": 429, "retry_after": 3})
        assert control.json() == {"pending_faults": 1}
        send = f"{server.url}/v3/mail/send"
        refused = httpx.post(send, content=gzip.compress(body.encode()), headers=headers)
        assert refused.status_code == 429 and refused.headers["Retry-After"] == "3"
        accepted = httpx.post(send, content=gzip.compress(body.encode()), headers=headers)
        assert accepted.status_code == 202 and accepted.headers["X-Message-Id"]
        stats = httpx.get(f"{server.url}/_local/stats").json()
    assert (stats["requests"], stats["accepted_recipients"]) == (2, 2)


def test_benchmark_mode_counts_only() -> None:
    with LocalSendGridServer(benchmark=True) as server:
        response = httpx.post(
            f"{server.url}/v3/mail/send",
            json={"personalizations": [{"to": [{"email": "x"}, {"email": "y"}]}]},
            headers=AUTH,
        )
        assert response.status_code == 202
        assert server.accepted == []
        assert server.stats()["accepted_recipients"] == 2


def test_the_local_backend_starts_a_server_when_none_runs(workspace: Path) -> None:
    settings = delivery_settings(workspace, backend="local")
    with webhook_receiver() as (url, posts):
        app_url = url.removesuffix("/webhooks/sendgrid")
        settings = settings.model_copy(
            update={"web": settings.web.model_copy(update={"public_url": app_url})}
        )
        backend = open_backend(settings)
        assert isinstance(backend, LocalBackend) and backend.server is not None
        [result] = backend.send_batch(rendered_variant(), recipients(settings, 1))
        backend.close()
        # Closing waits for the server's events to reach the app.
        assert {
            event.event for event in _events(posts, settings.webhook_verification_key() or "")
        } == {
            "processed",
            "delivered",
        }
    assert result.outcome == "sent"
    assert len(list_local_messages(settings)) == 1
    assert not (workspace / "var" / "local-sendgrid" / "server.json").exists()


def test_the_local_backend_uses_the_running_server(workspace: Path) -> None:
    settings = delivery_settings(workspace, backend="local")
    with LocalSendGridServer.from_settings(settings, port=0, webhook_url=None) as server:
        backend = LocalBackend(settings)
        assert backend.server is None and backend.api_host == server.url
        backend.send_batch(rendered_variant(), recipients(settings, 2))
        backend.close()
        assert server.stats()["accepted_recipients"] == 2


def test_events_wait_for_their_delay_but_stopping_posts_them(workspace: Path) -> None:
    settings = delivery_settings(workspace)
    with webhook_receiver() as (url, posts):
        server = LocalSendGridServer(webhook_url=url, webhook_delay=600).start()
        backend = SendGridBackend(settings, api_host=server.url, api_key="SG.any")
        backend.send_batch(rendered_variant(), recipients(settings, 1))
        assert posts == []
        server.stop()
        assert {event.event for event in _events(posts, server.public_key)} == {
            "processed",
            "delivered",
        }


def test_stopping_leaves_another_servers_announcement(workspace: Path) -> None:
    settings = delivery_settings(workspace)
    server_file = workspace / "var" / "local-sendgrid" / "server.json"
    first = LocalSendGridServer.from_settings(settings, port=0, webhook_url=None).start()
    with LocalSendGridServer.from_settings(settings, port=0, webhook_url=None) as second:
        first.stop()
        assert json.loads(server_file.read_text())["url"] == second.url
    assert not server_file.exists()
