"""Sending processes: claimed rows personalised and handed to the backend by child processes.

One Python process signs links and builds requests on one core at a time, whatever its threads.
With `[delivery] processes` above 1, the outbox's process keeps the database work (claims and
results) and each batch's per-recipient work (token values, the request, the HTTP call) runs in
one of that many child processes, each with its own backend of the configured kind."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from email.message import EmailMessage

from pipeline.config import Settings
from pipeline.delivery.allocator import keep_freed_memory
from pipeline.delivery.backend import Backend
from pipeline.models import (
    ClaimedRow,
    Outcome,
    Recipient,
    RenderedVariant,
    SendResult,
)
from pipeline.render.message import RecipientValues


class SendingProcesses:
    """A backend whose campaign batches go through `processes` child processes (spawned, so no
    thread of this process is forked), each holding its own copy of `inline`, made by the
    picklable call `inline.replica()`.

    `send_claimed` is what the outbox calls; `send_batch` and `send_message` (test sends, the
    owner's report) use `inline` itself, in this process."""

    def __init__(self, settings: Settings, inline: Backend, processes: int):
        self.inline = inline
        self.processes = processes
        self._settings = settings
        self._child_backend: Callable[[], Backend] = inline.replica()
        self._lock = threading.Lock()
        self._pool = self._start_pool()

    def _start_pool(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(
            self.processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_child,
            initargs=(self._settings, self._child_backend),
        )
        # Every child started now (each submission finds no idle child and spawns one), so the
        # first batches do not wait for interpreters to import the pipeline.
        for future in [pool.submit(os.getpid) for _ in range(self.processes)]:
            future.result()
        return pool

    def _replace(self, broken: ProcessPoolExecutor) -> ProcessPoolExecutor:
        """A working pool instead of `broken` (one of its children died), started once however
        many threads find it broken."""
        with self._lock:
            if self._pool is broken:
                broken.shutdown(wait=False, cancel_futures=True)
                self._pool = self._start_pool()
            return self._pool

    def send_claimed(
        self,
        rendered: RenderedVariant,
        rows: Sequence[ClaimedRow],
        recipient_values: RecipientValues,
    ) -> dict[Outcome, list[int]]:
        """The rows go to a child, which makes their recipients with its own RecipientValues (the
        same settings make the same values): token signing is most of a batch's work."""
        pool = self._pool
        try:
            future = pool.submit(_send_in_child, rendered, rows)
        except BrokenProcessPool:
            # A child died since the last batch: nothing of this one has left yet.
            future = self._replace(pool).submit(_send_in_child, rendered, rows)
        try:
            return future.result()
        except BrokenProcessPool:
            # A child died with this batch in hand, which may have gone out: the caller settles
            # it as unknown; later batches get fresh children.
            self._replace(pool)
            raise

    def child_pids(self) -> list[int]:
        """The sending processes' ids (for operators and tests; the executor keeps its processes
        in `_processes` and offers no public accessor)."""
        return [process.pid for process in self._pool._processes.values()]

    def send_batch(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> list[SendResult]:
        return self.inline.send_batch(rendered, recipients)

    def send_batch_grouped(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> dict[Outcome, list[int]]:
        return self.inline.send_batch_grouped(rendered, recipients)

    def send_message(self, message: EmailMessage) -> str | None:
        return self.inline.send_message(message)

    def replica(self) -> Callable[[], Backend]:
        return self.inline.replica()

    def close(self) -> None:
        with self._lock:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self.inline.close()


@dataclass(frozen=True)
class _Child:
    """A sending process's own backend and token maker, made once by _start_child."""

    backend: Backend
    values: RecipientValues


_child: list[_Child] = []


def _start_child(settings: Settings, child_backend: Callable[[], Backend]) -> None:
    keep_freed_memory()
    _child.append(_Child(child_backend(), RecipientValues(settings)))
    # What a child imported at start lives as long as it does: leave it out of the collector's
    # full passes, which otherwise rescan it every few batches.
    gc.freeze()


def _send_in_child(
    rendered: RenderedVariant, rows: Sequence[ClaimedRow]
) -> dict[Outcome, list[int]]:
    child = _child[0]
    return child.backend.send_claimed(rendered, rows, child.values)
