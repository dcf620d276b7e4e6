"""The Backend protocol the outbox, the sending processes and single sends go through.

A backend makes one attempt per send_batch call; the outbox schedules retries and reconciles
ambiguous outcomes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Protocol

from pipeline.models import Outcome, Recipient, RenderedVariant, SendResult


class Backend(Protocol):
    def send_batch(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> list[SendResult]:
        """One result per recipient, in order: sent | failed | retry | unknown."""
        ...

    def send_batch_grouped(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> dict[Outcome, list[int]]:
        """The same results as send_batch, as send ids per outcome (no object per recipient)."""
        ...

    def send_message(self, message: EmailMessage) -> str | None:
        """Send one whole message that is no campaign send (the owner's report); the
        provider's id for it. Raises DeliveryError when it was not accepted."""
        ...

    def replica(self) -> Callable[[], Backend]:
        """A picklable call that makes an equivalent backend in another process."""
        ...

    def close(self) -> None: ...
