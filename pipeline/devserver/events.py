"""Event Webhook batches from the local SendGrid-compatible server: the events an accepted request
causes (and, in demo mode, simulated engagement), signed like SendGrid signs them and posted."""

from __future__ import annotations

import base64
import json
import logging
import queue
import random
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from html import unescape as html_unescape
from typing import Any

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from pipeline.tracking import SIGNATURE_HEADER, SIMULATED_FIELD, TIMESTAMP_HEADER
from pipeline.urls import same_address

log = logging.getLogger(__name__)

# Largest batch of events in one webhook POST (SendGrid batches similarly).
MAX_EVENTS_PER_POST = 1000
_HREF = re.compile(r"""href\s*=\s*["'](https?://[^"']+)["']""", re.IGNORECASE)


@dataclass(frozen=True)
class DemoRates:
    """How often simulated engagement happens, per delivered recipient (clicks per opener)."""

    bounce: float = 0.03
    blocked_share: float = 0.3
    open: float = 0.5
    machine_open_share: float = 0.15
    click: float = 0.35
    booking_click_share: float = 0.5
    unsubscribe: float = 0.02
    spamreport: float = 0.003


def sign_webhook(key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    """SendGrid's Signed Event Webhook: base64 DER ECDSA/SHA-256 over timestamp + body."""
    signature = key.sign(timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode("ascii")


def request_events(
    body: Mapping[str, Any],
    request_id: str,
    *,
    demo: bool,
    rng: random.Random,
    rates: DemoRates,
    booking_url: str | None,
    seed: int | None = None,
) -> list[dict[str, Any]]:
    """The events one accepted request causes: processed and delivered for each recipient, and in
    demo mode simulated bounces, opens, clicks, unsubscribes and spam reports.

    With a `seed`, each address's simulated fate is drawn from the seed and the address alone,
    so the same seed gives every recipient the same fate whatever order requests arrive in;
    without one, from `rng`."""
    now = int(time.time())
    categories = list(body.get("categories") or [])
    top_args = body.get("custom_args") if isinstance(body.get("custom_args"), dict) else {}
    html = next(
        (c.get("value", "") for c in body.get("content") or [] if c.get("type") == "text/html"), ""
    )
    links = _clickable_links(html)
    events: list[dict[str, Any]] = []
    for index, personalization in enumerate(body.get("personalizations") or []):
        custom_args = {**top_args, **(personalization.get("custom_args") or {})}
        for recipient in personalization.get("to") or []:
            # What SendGrid puts in every event of one message: its custom_args flattened in.
            common = {
                **custom_args,
                "email": recipient.get("email"),
                "timestamp": now,
                "smtp-id": f"<{request_id}.{index}@local-sendgrid>",
                "sg_message_id": f"{request_id}.local.{index}",
                "category": categories,
            }
            events.append(_event(common, "processed"))
            fate = rng if seed is None else random.Random(f"{seed}:{recipient.get('email')}")
            if demo and fate.random() < rates.bounce:
                events.append(
                    _simulated_bounce(common, blocked=fate.random() < rates.blocked_share)
                )
                continue
            events.append(_event(common, "delivered", response="250 OK (local server)"))
            if demo:
                events.extend(_simulated_engagement(common, fate, rates, links, booking_url))
    return events


def _event(common: Mapping[str, Any], name: str, **fields: Any) -> dict[str, Any]:
    return {**common, "event": name, "sg_event_id": secrets.token_urlsafe(16), **fields}


def _simulated_bounce(common: Mapping[str, Any], *, blocked: bool) -> dict[str, Any]:
    if blocked:
        reason, status, kind = "550 5.7.1 message refused (simulated)", "5.7.1", "Reputation"
    else:
        reason, status = "550 5.1.1 mailbox does not exist (simulated)", "5.1.1"
        kind = "Invalid Address"
    return _event(
        common,
        "bounce",
        type="blocked" if blocked else "bounce",
        status=status,
        reason=reason,
        bounce_classification=kind,
        **{SIMULATED_FIELD: True},
    )


def _simulated_engagement(
    common: Mapping[str, Any],
    rng: random.Random,
    rates: DemoRates,
    links: list[str],
    booking_url: str | None,
) -> list[dict[str, Any]]:
    simulated = {SIMULATED_FIELD: True}
    events = []
    if rng.random() < rates.open:
        machine = rng.random() < rates.machine_open_share
        events.append(
            _event(
                common, "open", sg_machine_open=machine, useragent="clinicmail-demo", **simulated
            )
        )
        if not machine and links and rng.random() < rates.click:
            url = _pick_link(rng, links, booking_url, rates)
            events.append(_event(common, "click", url=url, **simulated))
    if rng.random() < rates.unsubscribe:
        events.append(_event(common, "unsubscribe", **simulated))
    elif rng.random() < rates.spamreport:
        events.append(_event(common, "spamreport", **simulated))
    return events


def _clickable_links(html: str) -> list[str]:
    """Links a reader might click: not the unsubscribe or preference links, and none that still
    holds a per-recipient placeholder."""
    links = []
    # A mail client follows the address the HTML means: "&amp;" in an attribute is "&".
    for url in map(html_unescape, _HREF.findall(html)):
        lowered = url.lower()
        if "unsubscribe" in lowered or "preferences" in lowered or "%" in url.split("?")[0]:
            continue
        links.append(url)
    return list(dict.fromkeys(links))


def _pick_link(
    rng: random.Random, links: list[str], booking_url: str | None, rates: DemoRates
) -> str:
    booking = [url for url in links if same_address(url, booking_url)]
    if booking and rng.random() < rates.booking_click_share:
        return rng.choice(booking)
    return rng.choice(links)


class WebhookPoster:
    """A background thread posting queued events to the app's webhook URL in signed batches.
    A batch the app refuses is retried a few times, then dropped with a log line."""

    def __init__(
        self,
        webhook_url: str,
        key: ec.EllipticCurvePrivateKey,
        *,
        attempts: int = 4,
        timeout: float = 10.0,
        delay: float = 0.0,
    ):
        self.webhook_url = webhook_url
        self._delay = delay
        self._key = key
        self._attempts = attempts
        self._timeout = timeout
        self._queue: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="local-sendgrid-webhook", daemon=True
        )
        self.posted = 0
        self.dropped = 0

    def start(self) -> None:
        self._thread.start()

    def enqueue(self, events: list[dict[str, Any]]) -> None:
        due = time.monotonic() + self._delay
        for event in events:
            self._queue.put((due, event))

    def flush(self) -> None:
        """Wait until every queued event was posted (or dropped)."""
        self._queue.join()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(timeout=self._timeout) as client:
            while not (self._stopping.is_set() and self._queue.empty()):
                try:
                    due, first = self._queue.get(timeout=0.1)
                except queue.Empty:
                    continue
                # Like SendGrid, post a little after the send was accepted (the sender has
                # recorded its result by then); stopping posts at once.
                self._stopping.wait(max(0.0, due - time.monotonic()))
                batch = [first]
                while len(batch) < MAX_EVENTS_PER_POST:
                    try:
                        batch.append(self._queue.get_nowait()[1])
                    except queue.Empty:
                        break
                try:
                    self._post(client, batch)
                finally:
                    for _ in batch:
                        self._queue.task_done()

    def _post(self, client: httpx.Client, batch: list[dict[str, Any]]) -> None:
        body = json.dumps(batch, separators=(",", ":")).encode("utf-8") + b"\r\n"
        problem = ""
        for attempt in range(self._attempts):
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign_webhook(self._key, timestamp, body),
                TIMESTAMP_HEADER: timestamp,
            }
            try:
                response = client.post(self.webhook_url, content=body, headers=headers)
            except httpx.HTTPError as error:
                problem = str(error) or type(error).__name__
            else:
                if response.status_code < 300:
                    self.posted += len(batch)
                    return
                problem = f"HTTP {response.status_code}"
                if 400 <= response.status_code < 500 and response.status_code != 429:
                    break
            if self._stopping.wait(0.25 * 2**attempt):
                break
        self.dropped += len(batch)
        log.warning(
            "local SendGrid server: %d webhook events not accepted by %s (%s)",
            len(batch),
            self.webhook_url,
            problem,
        )
