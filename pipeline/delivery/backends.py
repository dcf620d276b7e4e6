"""open_backend choosing a backend (pipeline.delivery.backend.Backend) from settings."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from pipeline.config import Settings
from pipeline.delivery.backend import Backend
from pipeline.delivery.file import FileBackend
from pipeline.delivery.processes import SendingProcesses
from pipeline.delivery.sendgrid import SendGridBackend
from pipeline.delivery.smtp import SmtpBackend
from pipeline.errors import ConfigError

BACKEND_ENTRY_POINTS = "clinicmail.backends"


def open_backend(settings: Settings) -> Backend:
    """The backend [delivery] backend names in clinic.toml (or CLINICMAIL_DELIVERY_BACKEND), in
    this process: for single messages (test sends, the owner's report)."""
    match settings.delivery.backend:
        case "sendgrid":
            return SendGridBackend(settings)
        case "smtp":
            return SmtpBackend(settings)
        case "file":
            return FileBackend(settings)
        case name:
            return _installed_backend(name, settings)


def open_outbox_backend(settings: Settings) -> Backend:
    """The backend the outbox drains through: open_backend's, wrapped in [delivery] processes
    sending processes when that is above 1."""
    backend = open_backend(settings)
    if settings.delivery.processes > 1:
        return SendingProcesses(settings, backend, settings.delivery.processes)
    return backend


def _installed_backend(name: str, settings: Settings) -> Backend:
    """A backend another package provides under the entry point group clinicmail.backends: the
    local SendGrid-compatible server's ("local", pipeline.devserver) is development machinery,
    loaded only when a workspace chooses it, so production code never imports it."""
    found = entry_points(group=BACKEND_ENTRY_POINTS, name=name)
    if not found:
        raise ConfigError(
            f"[delivery] backend = {name!r}: no such backend is installed "
            "(reinstall clinicmail: pip install -e .)"
        )
    opener: Callable[[Settings], Backend] = next(iter(found)).load()
    return opener(settings)
