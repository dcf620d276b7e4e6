"""The baseline for delivery benchmarks: how fast the local SendGrid-compatible server accepts
pre-built 1,000-recipient request bodies posted by a plain HTTP client, with no pipeline around."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from pipeline.config import Settings
from pipeline.delivery.sendgrid import request_body
from pipeline.models import Recipient, RenderedVariant


@dataclass(frozen=True)
class AcceptRate:
    requests: int
    recipients: int
    seconds: float

    @property
    def recipients_per_second(self) -> float:
        return self.recipients / self.seconds if self.seconds else 0.0


def prebuilt_body(
    settings: Settings, rendered: RenderedVariant, recipients: Sequence[Recipient]
) -> bytes:
    """Exactly the body the SendGrid backend would send for this batch, serialised once."""
    return json.dumps(request_body(settings, rendered, recipients)).encode("utf-8")


def measure_accept_rate(
    url: str,
    body: bytes,
    recipients_per_request: int,
    *,
    requests: int = 20,
    concurrency: int = 4,
    api_key: str = "SG.baseline",
) -> AcceptRate:
    """POST `body` to `url`/v3/mail/send `requests` times from `concurrency` threads (one
    keep-alive client each); every answer must be 202."""
    endpoint = f"{url.rstrip('/')}/v3/mail/send"
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    remaining = list(range(requests))
    lock = threading.Lock()
    failures: list[str] = []

    def post_until_done() -> None:
        with httpx.Client(timeout=60) as client:
            while True:
                with lock:
                    if not remaining:
                        return
                    remaining.pop()
                response = client.post(endpoint, content=body, headers=headers)
                if response.status_code != 202:
                    failures.append(f"HTTP {response.status_code}: {response.text[:200]}")

    threads = [threading.Thread(target=post_until_done) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(f"the local server refused a baseline request: {failures[0]}")
    return AcceptRate(requests, requests * recipients_per_request, elapsed)
