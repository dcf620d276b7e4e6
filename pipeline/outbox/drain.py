"""Draining the outbox: worker threads claim batches of one variant under a lease, hand them to
the delivery backend and record what it said; expired leases and ambiguous outcomes are settled.

The runner knows two interfaces, the store (pipeline.store.sends) and the Backend; it writes no
SQL itself. Retries live here, not in the backends: a backend makes one attempt per batch.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.delivery.backend import Backend
from pipeline.errors import DeliveryError
from pipeline.models import Outcome, RenderedVariant
from pipeline.render.message import RecipientValues
from pipeline.store import utcnow
from pipeline.store.outbox import (
    OutboxState,
    campaigns_sending,
    finish_campaign_if_drained,
    load_rendered_variant,
    outbox_state,
)
from pipeline.store.sends import (
    ClaimedBatch,
    claim_batch,
    expire_leases,
    reconcile_unknown,
    record_results,
)
from pipeline.timerules import sending_allowed

MAX_ATTEMPTS = 8
# Longest wait between looks at the database while rows back off or others' leases run.
POLL_SECONDS = 1.0
LONGEST_BACKOFF_SECONDS = 300.0
LONGEST_RETRY_AFTER_SECONDS = 3600.0


@dataclass
class DrainReport:
    """What one drain did (counts are this drain's work, not the campaign's totals)."""

    batches: int = 0
    handed_off: int = 0
    sent: int = 0
    failed: int = 0
    skipped: int = 0
    retried: int = 0
    unknown: int = 0
    reconciled_sent: int = 0
    requeued: int = 0
    finished: list[int] = field(default_factory=list)
    awaiting_reconciliation: int = 0
    stopped: bool = False
    # Set when quiet hours or a closure date stopped the drain: when sending may resume.
    held_until: datetime | None = None

    def add(self, outcomes: dict[str, int], handed_off: int, skipped: int) -> None:
        self.batches += 1
        self.handed_off += handed_off
        self.skipped += skipped
        self.sent += outcomes.get("sent", 0)
        self.failed += outcomes.get("failed", 0)
        self.retried += outcomes.get("retry", 0)
        self.unknown += outcomes.get("unknown", 0)


def default_worker_id() -> str:
    """host:pid, which is what someone looking at a stuck lease needs to find the process."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


def lease_length(settings: Settings) -> timedelta:
    """Long enough for a request that runs into the backend's timeout twice, plus the time to
    personalise and record a batch; shorter leases could expire under a live worker."""
    return timedelta(seconds=2 * settings.delivery.timeout_seconds + 5)


def retry_delay(outcomes: Iterable[Outcome], attempts: int) -> timedelta:
    """The provider's Retry-After / X-RateLimit-Reset when it gave one, else exponential backoff
    (2, 4, 8 … seconds, capped) from how many attempts the batch has had."""
    asked = [wait for outcome, _, _, wait in outcomes if outcome == "retry" and wait is not None]
    if asked:
        return timedelta(seconds=min(max(asked), LONGEST_RETRY_AFTER_SECONDS))
    return timedelta(seconds=min(2.0**attempts, LONGEST_BACKOFF_SECONDS))


class RateLimiter:
    """Paces hand-offs to `per_second` recipients a second across all threads (0: no limit)."""

    def __init__(self, per_second: float):
        self.per_second = per_second
        self._lock = threading.Lock()
        self._next_free = 0.0

    def wait(self, recipients: int, stop: threading.Event) -> None:
        if self.per_second <= 0:
            return
        now = time.monotonic()
        with self._lock:
            start = max(now, self._next_free)
            self._next_free = start + recipients / self.per_second
        if start > now:
            stop.wait(start - now)


class _Drain:
    """One drain: shared state of the worker threads (counters, rendered variants, the limiter)."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        backend: Backend,
        worker_id: str,
        stop: threading.Event,
        progress: Callable[[DrainReport], None] | None,
    ):
        self.engine = engine
        self.settings = settings
        self.backend = backend
        self.worker_id = worker_id
        self.stop = stop
        self.halt = threading.Event()
        self.progress = progress
        self.report = DrainReport()
        self.lock = threading.Lock()
        # SQLite has one writer at a time, and its busy handler sleeps (up to 100 ms a turn)
        # while it waits: this drain's own threads queue for writing on a lock instead, so a
        # finished write hands over at once. PostgreSQL's claims skip each other's rows.
        self.write_lock: threading.Lock | contextlib.nullcontext[None] = (
            threading.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )
        self.claims = itertools.count(1)
        self.variants: dict[int, RenderedVariant] = {}
        self.limiter = RateLimiter(settings.delivery.rate_limit_per_second)
        self.reconcile_after = timedelta(seconds=settings.delivery.reconcile_after_seconds)
        self.recipient_values = RecipientValues(settings)

    def rendered(self, variant_id: int) -> RenderedVariant:
        with self.lock:
            cached = self.variants.get(variant_id)
        if cached is None:
            with self.engine.connect() as conn:
                cached = load_rendered_variant(conn, variant_id)
            with self.lock:
                self.variants[variant_id] = cached
        return cached

    def housekeeping(self, campaign_id: int) -> None:
        now = utcnow()
        with self.write_lock, self.engine.begin() as conn:
            expire_leases(conn, campaign_id, now, self.reconcile_after)
            confirmed, requeued = reconcile_unknown(conn, campaign_id, now)
        with self.lock:
            self.report.reconciled_sent += confirmed
            self.report.requeued += requeued

    def work(self, campaign_ids: Sequence[int]) -> None:
        """One thread: claim, send and record until nothing is due or the drain is stopped."""
        try:
            while not self.stopping() and self.may_send():
                if not any(self.send_one_batch(campaign_id) for campaign_id in campaign_ids):
                    return
        except BaseException:
            # The other threads finish their batch and stop; the caller's `stop` is left alone
            # (a worker process drains again after logging the error).
            self.halt.set()
            raise

    def stopping(self) -> bool:
        return self.stop.is_set() or self.halt.is_set()

    def may_send(self) -> bool:
        """False (and the drain held) during quiet hours or on a closure date."""
        allowed = sending_allowed(utcnow(), self.settings)
        if allowed is True:
            return True
        with self.lock:
            self.report.held_until = allowed
        return False

    def send_one_batch(self, campaign_id: int) -> bool:
        """Claim one batch of `campaign_id` and see it through; False when nothing was due."""
        batch_size = self.settings.delivery.batch_size
        self.limiter.wait(batch_size, self.stop)
        if self.stopping():
            return False
        now = utcnow()
        lease_owner = f"{self.worker_id}#{next(self.claims)}"
        with self.write_lock, self.engine.begin() as conn:
            batch = claim_batch(
                conn, campaign_id, lease_owner, now + lease_length(self.settings), now, batch_size
            )
        if batch is None:
            return False
        outcomes = self.hand_off(batch) if batch.sends else {}
        with self.lock:
            self.report.add(outcomes, len(batch.sends), batch.skipped)
            if self.progress is not None:
                self.progress(self.report)
        return True

    def hand_off(self, batch: ClaimedBatch) -> dict[str, int]:
        rendered = self.rendered(batch.variant_id)
        send_ids = batch.send_ids
        try:
            outcomes = self.backend.send_claimed(rendered, batch.sends, self.recipient_values)
        except DeliveryError as error:
            # The backend refuses to send at all (a revoked key, an unverified sender) and
            # nothing was accepted: the batch goes back to the queue and the drain stops.
            self.record(batch, {Outcome("retry", None, str(error), 0): send_ids})
            raise
        except BaseException:
            # Whether any of it left is unknown: settle the batch as ambiguous, then stop.
            self.record(batch, {Outcome("unknown", None, "sending crashed", None): send_ids})
            raise
        answered = set().union(*outcomes.values())
        unanswered = [send_id for send_id in send_ids if send_id not in answered]
        if unanswered:
            reason = "the backend gave no result for this recipient"
            outcomes = {**outcomes, Outcome("unknown", None, reason, None): unanswered}
        return self.record(batch, outcomes)

    def record(self, batch: ClaimedBatch, outcomes: dict[Outcome, list[int]]) -> dict[str, int]:
        with self.write_lock, self.engine.begin() as conn:
            return record_results(
                conn,
                batch.lease_owner,
                outcomes,
                utcnow(),
                retry_delay=retry_delay(outcomes, batch.attempts),
                reconcile_after=self.reconcile_after,
                max_attempts=MAX_ATTEMPTS,
            )


def drain_outbox(
    engine: Engine,
    settings: Settings,
    backend: Backend,
    campaign_id: int | None = None,
    *,
    worker_id: str | None = None,
    stop: threading.Event | None = None,
    wait_for_unknown: bool = False,
    progress: Callable[[DrainReport], None] | None = None,
) -> DrainReport:
    """Send what is due in the outbox of `campaign_id` (default: every campaign that is
    `sending`) with `settings.delivery.concurrency` threads, until nothing is left to send.

    Rows backing off and rows leased by other workers are waited for; `unknown` rows are waited
    for only with `wait_for_unknown` (their reconciliation window can be an hour): otherwise the
    drain returns and reports them as awaiting reconciliation. A campaign with no open row left
    is marked `sent`. Quiet hours and closure dates end the drain (`held_until` says until when);
    so does setting `stop`, after the batches in flight."""
    stop = stop or threading.Event()
    drain = _Drain(engine, settings, backend, worker_id or default_worker_id(), stop, progress)
    while True:
        if campaign_id is not None:
            campaign_ids = [campaign_id]
        else:
            with engine.connect() as conn:
                campaign_ids = campaigns_sending(conn)
        for each in campaign_ids:
            drain.housekeeping(each)
        threads = settings.delivery.concurrency
        with ThreadPoolExecutor(threads, thread_name_prefix="outbox") as pool:
            for future in [pool.submit(drain.work, campaign_ids) for _ in range(threads)]:
                future.result()
        states = {}
        with engine.begin() as conn:
            for each in campaign_ids:
                if finish_campaign_if_drained(conn, each, utcnow()):
                    drain.report.finished.append(each)
                states[each] = outbox_state(conn, each)
        wake_at = _next_wake(states.values(), wait_for_unknown)
        if stop.is_set() or wake_at is None or drain.report.held_until is not None:
            drain.report.stopped = stop.is_set()
            drain.report.awaiting_reconciliation = sum(
                state.counts.get("unknown", 0) for state in states.values()
            )
            return drain.report
        pause = (wake_at - utcnow()).total_seconds()
        stop.wait(min(max(pause, 0.05), POLL_SECONDS))


def _next_wake(states: Iterable[OutboxState], wait_for_unknown: bool) -> datetime | None:
    """When to look again, or None when the drain is done: no campaign still `sending` has rows
    queued or leased (or, when waiting for them, `unknown`)."""
    wake: datetime | None = None
    for state in states:
        if state.campaign_state != "sending":
            continue  # paused, cancelled or finished: nothing of it will be claimed now
        busy = state.counts.get("queued", 0) + state.counts.get("sending", 0)
        if wait_for_unknown:
            busy += state.counts.get("unknown", 0)
        if not busy:
            continue
        candidate = state.next_due_at or utcnow()
        wake = candidate if wake is None else min(wake, candidate)
    return wake
