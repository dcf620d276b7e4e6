"""The local backend: the SendGrid backend talking to the local SendGrid-compatible server.
Installed as the "local" backend through the clinicmail.backends entry point (pyproject.toml),
so delivery never imports it."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from email.message import EmailMessage

import httpx

from pipeline.config import Settings
from pipeline.delivery.backend import SendsClaimedRowsHere
from pipeline.delivery.sendgrid import SendGridBackend
from pipeline.devserver.server import LocalSendGridServer
from pipeline.models import Outcome, Recipient, RenderedVariant, SendResult

# The bearer token sent to the local server when no SENDGRID_API_KEY is set.
LOCAL_API_KEY = "local-development-key"


class LocalBackend(SendsClaimedRowsHere):
    """The SendGrid backend talking to the local SendGrid-compatible server: the one
    `clinicmail dev sendgrid-server` (or `make run`) started, when it answers, else one started
    inside this process for as long as the backend is open."""

    def __init__(self, settings: Settings):
        self.server: LocalSendGridServer | None = None
        url = running_local_server_url(settings)
        if url is None:
            self.server = LocalSendGridServer.from_settings(settings, port=0).start()
            url = self.server.url
        api_key = (
            settings.sendgrid_api_key.get_secret_value()
            if settings.sendgrid_api_key
            else LOCAL_API_KEY
        )
        self.api_host = url
        self._sendgrid = SendGridBackend(settings, api_host=url, api_key=api_key)

    def send_batch(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> list[SendResult]:
        return self._sendgrid.send_batch(rendered, recipients)

    def send_batch_grouped(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> dict[Outcome, list[int]]:
        return self._sendgrid.send_batch_grouped(rendered, recipients)

    def send_message(self, message: EmailMessage) -> str | None:
        return self._sendgrid.send_message(message)

    def replica(self) -> Callable[[], SendGridBackend]:
        """A picklable call making a SendGrid backend for the server this one uses (one it
        started included: that server lives as long as this backend), for a sending process."""
        return self._sendgrid.replica()

    def close(self) -> None:
        self._sendgrid.close()
        if self.server is not None:
            self.server.stop()
            self.server = None


def running_local_server_url(settings: Settings) -> str | None:
    """The URL of a local SendGrid server that is running for this workspace, or None."""
    path = settings.local_server_file
    try:
        url = json.loads(path.read_text(encoding="utf-8"))["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        response = httpx.get(f"{url}/_local/health", timeout=1.0)
    except httpx.HTTPError:
        return None
    return url if response.status_code == 200 else None
