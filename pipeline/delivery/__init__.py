"""Delivery: the Backend protocol and its four backends (SendGrid, SMTP, file, and the local
SendGrid-compatible server for development and demos). Each name is imported when first used:
a sending process needs its own backend, not the local server and its HTTP client."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.lazy import lazy_exports

if TYPE_CHECKING:
    from pipeline.delivery.backends import (
        Backend,
        LocalBackend,
        open_backend,
        open_outbox_backend,
    )
    from pipeline.delivery.file import FileBackend
    from pipeline.delivery.processes import SendingProcesses
    from pipeline.delivery.sendgrid import SendGridBackend
    from pipeline.delivery.smtp import SmtpBackend

_MODULE_OF = {
    "Backend": "backends",
    "FileBackend": "file",
    "LocalBackend": "backends",
    "SendGridBackend": "sendgrid",
    "SendingProcesses": "processes",
    "SmtpBackend": "smtp",
    "open_backend": "backends",
    "open_outbox_backend": "backends",
}

__all__ = [
    "Backend",
    "FileBackend",
    "LocalBackend",
    "SendGridBackend",
    "SendingProcesses",
    "SmtpBackend",
    "open_backend",
    "open_outbox_backend",
]

__getattr__ = lazy_exports(__name__, _MODULE_OF)
