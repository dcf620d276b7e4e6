"""Delivery: the Backend protocol and its four backends (SendGrid, SMTP, file, and the local
SendGrid-compatible server for development and demos)."""

from pipeline.delivery.backends import Backend, LocalBackend, open_backend, open_outbox_backend
from pipeline.delivery.file import FileBackend
from pipeline.delivery.processes import SendingProcesses
from pipeline.delivery.sendgrid import SendGridBackend
from pipeline.delivery.smtp import SmtpBackend

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
