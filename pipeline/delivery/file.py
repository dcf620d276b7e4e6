"""The file backend: each message written as an .eml file under var/outbox/<campaign>/, once per
send id, for trying clinicmail out and for inspecting exactly what would go on the wire."""

from __future__ import annotations

import contextlib
import email.policy
import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from pathlib import Path

from pipeline.config import Settings
from pipeline.delivery.backend import SendsClaimedRowsHere
from pipeline.models import Outcome, Recipient, RenderedVariant, SendResult, group_results
from pipeline.render.message import mime_bytes, personalise

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FileBackend(SendsClaimedRowsHere):
    """Writes `<send_id>.eml`; a send id already written is left as it is (and reported sent),
    so a batch handed over twice never produces a second, different file."""

    def __init__(self, settings: Settings, directory: Path | None = None):
        self.settings = settings
        self.directory = directory or settings.var_dir / "outbox"

    def replica(self) -> Callable[[], FileBackend]:
        """A picklable call making a backend like this one (same folder), for a sending process."""
        return functools.partial(FileBackend, self.settings, self.directory)

    def path_for(self, campaign: str, send_id: int) -> Path:
        folder = _UNSAFE.sub("-", campaign).strip(".-") or "campaign"
        return self.directory / folder / f"{send_id}.eml"

    def send_batch_grouped(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> dict[Outcome, list[int]]:
        return group_results(self.send_batch(rendered, recipients))

    def send_batch(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> list[SendResult]:
        results = []
        for recipient in recipients:
            path = self.path_for(rendered.campaign, recipient.send_id)
            if not path.exists():
                message = personalise(rendered, recipient, self.settings)
                _write_once(path, mime_bytes(message, self.settings))
            results.append(SendResult(recipient.send_id, "sent", provider_message_id=path.name))
        return results

    def send_message(self, message: EmailMessage) -> str:
        """Write one whole message that is no campaign send (the owner's report) to
        var/outbox/messages/, named after its Message-ID (or its content); the file's name."""
        data = message.as_bytes(policy=email.policy.SMTP)
        identity = str(message["Message-ID"] or "").strip("<> ") or hashlib.sha256(data).hexdigest()
        path = self.directory / "messages" / f"{_UNSAFE.sub('-', identity).strip('.-')}.eml"
        _write_once(path, data)
        return path.name

    def close(self) -> None:
        """Nothing to release: every file is closed as soon as it is written."""


def _write_once(path: Path, data: bytes) -> None:
    """Write to a temporary file, then link it into place: readers never see half a message,
    and an existing file (another worker got there first) is never replaced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
