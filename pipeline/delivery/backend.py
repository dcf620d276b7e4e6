"""The Backend protocol the outbox, the sending processes and single sends go through.

A backend makes one attempt per send_batch call; the outbox schedules retries and reconciles
ambiguous outcomes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Protocol

from pipeline.models import ClaimedRow, Outcome, Recipient, RenderedVariant, SendResult
from pipeline.render.message import RecipientValues


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

    def send_claimed(
        self,
        rendered: RenderedVariant,
        rows: Sequence[ClaimedRow],
        recipient_values: RecipientValues,
    ) -> dict[Outcome, list[int]]:
        """The outbox's call: claimed rows made recipients (their token values) and sent as one
        batch, grouped by outcome. Sending processes make the recipients in their children."""
        ...

    def send_message(self, message: EmailMessage) -> str | None:
        """Send one whole message that is no campaign send (the owner's report); the
        provider's id for it. Raises DeliveryError when it was not accepted."""
        ...

    def replica(self) -> Callable[[], Backend]:
        """A picklable call that makes an equivalent backend in another process."""
        ...

    def close(self) -> None: ...


def claimed_recipients(
    recipient_values: RecipientValues, rows: Sequence[ClaimedRow]
) -> list[Recipient]:
    """The recipients of claimed rows, each with its token values."""
    return [
        Recipient(send_id, email, recipient_values(contact_id, email, first_name, send_id))
        for send_id, contact_id, email, first_name in rows
    ]


class SendsClaimedRowsHere(ABC):
    """send_claimed for a backend that sends in this process: the recipients made here, then
    one send_batch_grouped."""

    @abstractmethod
    def send_batch_grouped(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> dict[Outcome, list[int]]: ...

    def send_claimed(
        self,
        rendered: RenderedVariant,
        rows: Sequence[ClaimedRow],
        recipient_values: RecipientValues,
    ) -> dict[Outcome, list[int]]:
        recipients = claimed_recipients(recipient_values, rows)
        return self.send_batch_grouped(rendered, recipients)
