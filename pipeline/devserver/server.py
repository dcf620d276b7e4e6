"""A SendGrid-compatible HTTP server on this machine: accepts POST /v3/mail/send, keeps what it
accepted, posts signed Event Webhook batches back, and fails on request for tests."""

from __future__ import annotations

import contextlib
import gzip
import json
import random
import secrets
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

import orjson
from cryptography.hazmat.primitives.asymmetric import ec

from pipeline.config import LOCAL_SERVER_FILE, LOCAL_SERVER_PORT, WEBHOOK_PATH, Settings
from pipeline.devserver.events import DemoRates, WebhookPoster, request_events
from pipeline.devserver.mailstore import (
    LocalMailStore,
    load_or_create_signing_key,
    public_key_b64,
)
from pipeline.devserver.validation import validation_errors
from pipeline.errors import DeliveryError

# Seconds between accepting a request and posting its events: the sender records its results
# first, as it would with SendGrid, whose events come seconds later.
DEFAULT_WEBHOOK_DELAY = 2.0
# SendGrid's limit on one request, attachments included.
MAX_REQUEST_BYTES = 30 * 1024 * 1024


@dataclass(frozen=True)
class Fault:
    """What to do instead of a normal answer: an error status, or a response that never comes.

    `timeout="accepted"` records the request (and sends its events) but holds the answer until
    the client gives up; `timeout="not_accepted"` holds it without recording anything."""

    status: int | None = None
    retry_after: int | None = None
    message: str | None = None
    # The request field an error names, as SendGrid names a bad address
    # ("personalizations.1.to.0.email").
    field: str | None = None
    timeout: Literal["accepted", "not_accepted"] | None = None
    hold_seconds: float = 60.0


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a request log line per batch would drown the terminal."""

    def do_GET(self) -> None:
        owner = self.server.owner
        if self.path == "/_local/health":
            self._json(200, {"ok": True})
        elif self.path == "/_local/stats":
            self._json(200, owner.stats())
        elif self.path == "/_local/public-key":
            self._json(200, {"public_key": owner.public_key})
        else:
            self._json(404, {"errors": [{"message": "not found", "field": None}]})

    def do_POST(self) -> None:
        body = self._read_body()
        if body is None:
            return
        if self.path == "/v3/mail/send":
            self.server.owner.handle_mail_send(self, body)
        elif self.path == "/_local/faults":
            self.server.owner.handle_fault_request(self, body)
        else:
            self._json(404, {"errors": [{"message": "not found", "field": None}]})

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self.close_connection = True
            message = f"request body must be at most {MAX_REQUEST_BYTES} bytes"
            self._json(413, {"errors": [{"message": message, "field": None}]})
            return None
        body = self.rfile.read(length) if length else b""
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            try:
                body = gzip.decompress(body)
            except (OSError, EOFError):
                self._json(400, {"errors": [{"message": "body is not valid gzip", "field": None}]})
                return None
        return body

    def _json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(document).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def accepted(self, message_id: str) -> None:
        self.send_response(202)
        self.send_header("X-Message-Id", message_id)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def hold_until_client_leaves(self, seconds: float, stopping: threading.Event) -> None:
        """Answer nothing until the client hangs up (its timeout), `seconds` pass, or the
        server stops; then drop the connection."""
        deadline = time.monotonic() + seconds
        while not stopping.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([self.connection], [], [], 0.05)
            if readable:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        break
                except OSError:
                    break
                # The client sent more (a pipelined request): not a hang-up, keep holding.
                stopping.wait(0.05)
        self.close_connection = True


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    owner: LocalSendGridServer


class LocalSendGridServer:
    """The server; embeddable: start() serves on a background thread, stop() ends it.

    store_dir: where accepted requests and the signing key live (None: memory only, a fresh
    key). benchmark: no schema validation, nothing kept but counts, no webhooks. webhook_delay:
    seconds before an accepted request's events are posted."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        webhook_url: str | None = None,
        signing_key: ec.EllipticCurvePrivateKey | None = None,
        demo: bool = False,
        store_dir: Path | None = None,
        api_key: str | None = None,
        benchmark: bool = False,
        booking_url: str | None = None,
        demo_rates: DemoRates | None = None,
        seed: int | None = None,
        keep_in_memory: bool = True,
        webhook_delay: float = 0.0,
    ):
        self.host = host
        self.port = port
        self.webhook_url = webhook_url
        self.demo = demo
        self.benchmark = benchmark
        self.booking_url = booking_url
        self.api_key = api_key
        self.keep_in_memory = keep_in_memory
        self.webhook_delay = webhook_delay
        self._store = LocalMailStore(store_dir) if store_dir is not None else None
        self._store_dir = store_dir
        if signing_key is None:
            signing_key = (
                load_or_create_signing_key(store_dir)
                if store_dir is not None
                else ec.generate_private_key(ec.SECP256R1())
            )
        self._key = signing_key
        self.public_key = public_key_b64(signing_key)
        self._rates = demo_rates or DemoRates()
        self._rng = random.Random(seed)
        self._seed = seed
        self._lock = threading.Lock()
        self._faults: deque[Fault] = deque()
        self._stopping = threading.Event()
        self._server: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._poster: WebhookPoster | None = None
        self.accepted: list[tuple[str, dict[str, Any]]] = []
        self.requests = 0
        self.accepted_requests = 0
        self.accepted_recipients = 0
        self.rejected_requests = 0

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> LocalSendGridServer:
        """A server keeping its store and key under var/local-sendgrid/ and posting events to
        the app's own webhook endpoint."""
        options.setdefault("webhook_url", settings.web.public_url + WEBHOOK_PATH)
        options.setdefault("booking_url", settings.clinic.booking_url)
        options.setdefault("port", LOCAL_SERVER_PORT)
        options.setdefault("keep_in_memory", False)
        options.setdefault("webhook_delay", DEFAULT_WEBHOOK_DELAY)
        return cls(store_dir=settings.local_sendgrid_dir, **options)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the local SendGrid server is not started")
        return f"http://{self.host}:{self._server.server_address[1]}"

    def start(self) -> LocalSendGridServer:
        try:
            self._server = _HTTPServer((self.host, self.port), _Handler)
        except OSError as error:
            raise DeliveryError(
                f"the local SendGrid server cannot listen on {self.host}:{self.port} "
                f"({error.strerror or error}); choose another port with --port"
            ) from None
        self._server.owner = self
        if self.webhook_url and not self.benchmark:
            self._poster = WebhookPoster(self.webhook_url, self._key, delay=self.webhook_delay)
            self._poster.start()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="local-sendgrid",
            daemon=True,
        )
        self._thread.start()
        if self._store_dir is not None:
            self._store_dir.mkdir(parents=True, exist_ok=True)
            (self._store_dir / LOCAL_SERVER_FILE).write_text(json.dumps({"url": self.url}))
        return self

    def stop(self) -> None:
        """Stop accepting, post the events still queued, and release the port."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._poster is not None:
            self._poster.stop()
        if self._server is not None and self._store_dir is not None:
            server_file = self._store_dir / LOCAL_SERVER_FILE
            # Another server of this workspace may have announced itself since: leave it be.
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                if json.loads(server_file.read_text())["url"] == self.url:
                    server_file.unlink()

    def __enter__(self) -> LocalSendGridServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def flush_webhooks(self) -> None:
        """Wait until the events of every accepted request were posted (or given up on)."""
        if self._poster is not None:
            self._poster.flush()

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 429,
        retry_after: int | None = None,
        message: str | None = None,
        field: str | None = None,
    ) -> None:
        """Answer the next `count` mail sends with `status` (429 carries Retry-After), the error
        naming `field` when given."""
        fault = Fault(status=status, retry_after=retry_after, message=message, field=field)
        self._add_faults(count, fault)

    def time_out_next(
        self,
        count: int = 1,
        *,
        accepted: bool = True,
        hold_seconds: float = 60.0,
    ) -> None:
        """Hold the answer to the next `count` mail sends until the client gives up; with
        accepted=True the request is recorded first (the response is what gets lost)."""
        timeout: Literal["accepted", "not_accepted"] = "accepted" if accepted else "not_accepted"
        self._add_faults(count, Fault(timeout=timeout, hold_seconds=hold_seconds))

    def _add_faults(self, count: int, fault: Fault) -> None:
        with self._lock:
            self._faults.extend([fault] * count)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "accepted_requests": self.accepted_requests,
                "accepted_recipients": self.accepted_recipients,
                "rejected_requests": self.rejected_requests,
                "pending_faults": len(self._faults),
                "webhook_events_posted": self._poster.posted if self._poster else 0,
                "webhook_events_dropped": self._poster.dropped if self._poster else 0,
            }

    def handle_fault_request(self, handler: _Handler, body: bytes) -> None:
        try:
            document = json.loads(body or b"{}")
            count = int(document.get("count", 1))
            if document.get("timeout"):
                self.time_out_next(
                    count,
                    accepted=document["timeout"] == "accepted",
                    hold_seconds=float(document.get("hold_seconds", 60)),
                )
            else:
                self.fail_next(
                    count,
                    status=int(document.get("status", 429)),
                    retry_after=document.get("retry_after"),
                    message=document.get("message"),
                )
        except (ValueError, TypeError, AttributeError) as error:
            handler._json(400, {"errors": [{"message": f"bad fault: {error}", "field": None}]})
            return
        handler._json(200, {"pending_faults": self.stats()["pending_faults"]})

    def handle_mail_send(self, handler: _Handler, body: bytes) -> None:
        with self._lock:
            self.requests += 1
            fault = self._faults.popleft() if self._faults else None
        if not self._authorised(handler.headers.get("Authorization", "")):
            message = "The provided authorization grant is invalid, expired, or revoked"
            self._reject(handler, 401, [{"field": None, "message": message, "help": None}])
            return
        if fault is not None and fault.status is not None:
            self._answer_fault(handler, fault)
            return
        if fault is not None and fault.timeout == "not_accepted":
            handler.hold_until_client_leaves(fault.hold_seconds, self._stopping)
            return
        try:
            # orjson: a 1,000-recipient body parses in a fifth of json's time, and the server
            # shares the machine with the sender it measures.
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            self._reject(handler, 400, [{"field": None, "message": "Bad Request", "help": None}])
            return
        errors = [] if self.benchmark else validation_errors(document)
        if errors:
            self._reject(handler, 400, errors)
            return
        message_id = secrets.token_urlsafe(16)[:22]
        self._record(message_id, document, body)
        if fault is not None:
            handler.hold_until_client_leaves(fault.hold_seconds, self._stopping)
            return
        handler.accepted(message_id)

    def _authorised(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        return self.api_key is None or secrets.compare_digest(token.strip(), self.api_key)

    def _reject(self, handler: _Handler, status: int, errors: list[dict[str, Any]]) -> None:
        with self._lock:
            self.rejected_requests += 1
        handler._json(status, {"errors": errors})

    def _answer_fault(self, handler: _Handler, fault: Fault) -> None:
        assert fault.status is not None
        headers: dict[str, str] = {}
        if fault.status == 429:
            wait = fault.retry_after if fault.retry_after is not None else 1
            headers["Retry-After"] = str(wait)
            headers["X-RateLimit-Limit"] = "600"
            headers["X-RateLimit-Remaining"] = "0"
            headers["X-RateLimit-Reset"] = str(int(time.time()) + wait)
        elif fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        default = "too many requests" if fault.status == 429 else "injected failure"
        error = {"field": fault.field, "message": fault.message or default, "help": None}
        with self._lock:
            self.rejected_requests += 1
        handler._json(fault.status, {"errors": [error]}, headers)

    def _record(self, message_id: str, document: dict[str, Any], body: bytes) -> None:
        recipients = sum(len(p.get("to") or []) for p in document.get("personalizations") or [])
        with self._lock:
            self.accepted_requests += 1
            self.accepted_recipients += recipients
            if self.keep_in_memory and not self.benchmark:
                self.accepted.append((message_id, document))
        if self.benchmark:
            return
        if self._store is not None:
            self._store.save(message_id, datetime.now(UTC), body)
        if self._poster is not None:
            with self._lock:
                events = request_events(
                    document,
                    message_id,
                    demo=self.demo,
                    rng=self._rng,
                    seed=self._seed,
                    rates=self._rates,
                    booking_url=self.booking_url,
                )
            self._poster.enqueue(events)
