"""The SMTP backend: a real SMTP session (STARTTLS or implicit TLS and AUTH when the URL asks),
one message per recipient, the connection kept open across recipients and batches."""

from __future__ import annotations

import contextlib
import email.policy
import functools
import re
import smtplib
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from pipeline.config import Settings
from pipeline.delivery.backend import SendsClaimedRowsHere
from pipeline.delivery.whole_message import recipients_of, require_sent
from pipeline.errors import ConfigError, DeliveryError
from pipeline.models import Outcome, Recipient, RenderedVariant, SendResult, group_results
from pipeline.render.message import mime_bytes, personalise

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to connect, from a URL such as
    smtp://user:password@host:587?starttls=true or smtps://host:465 (cafile=PATH to trust a
    private certificate authority)."""

    host: str
    port: int
    implicit_tls: bool = False
    starttls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: str | None = None


def parse_smtp_url(url: str) -> SmtpTarget:
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
        raise ConfigError(
            f"[delivery] smtp_url {_without_password(url)!r} is not an SMTP address; "
            "use smtp://user:password@host:587?starttls=true or smtps://host:465"
        )
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - {"starttls", "cafile"})
    if unknown:
        raise ConfigError(
            f"[delivery] smtp_url has an unknown option {unknown[0]!r} (known: starttls, cafile)"
        )
    implicit_tls = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit_tls else 25)
    except ValueError:
        raise ConfigError("[delivery] smtp_url has a port that is not a number") from None
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        implicit_tls=implicit_tls,
        starttls=query.get("starttls", "").lower() in _TRUE,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        cafile=query.get("cafile"),
    )


def _without_password(url: str) -> str:
    return re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", url)


class SmtpBackend(SendsClaimedRowsHere):
    """One SMTP connection per worker thread, reused for every message it sends."""

    def __init__(self, settings: Settings, target: SmtpTarget | None = None):
        if target is None:
            if not settings.delivery.smtp_url:
                raise DeliveryError(
                    "the smtp delivery backend needs [delivery] smtp_url in clinic.toml "
                    "(or CLINICMAIL_SMTP_URL), e.g. smtp://user:password@mail.example:587?starttls=true"
                )
            target = parse_smtp_url(settings.delivery.smtp_url)
        self.settings = settings
        self.target = target
        self._timeout = settings.delivery.timeout_seconds
        self._local = threading.local()
        self._all: list[smtplib.SMTP] = []
        self._all_lock = threading.Lock()

    def replica(self) -> Callable[[], SmtpBackend]:
        """A picklable call making a backend like this one (same server), for a sending process."""
        return functools.partial(SmtpBackend, self.settings, self.target)

    def send_batch_grouped(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> dict[Outcome, list[int]]:
        return group_results(self.send_batch(rendered, recipients))

    def send_batch(
        self, rendered: RenderedVariant, recipients: Sequence[Recipient]
    ) -> list[SendResult]:
        results: list[SendResult] = []
        for position, recipient in enumerate(recipients):
            message = personalise(rendered, recipient, self.settings)
            data = mime_bytes(message, self.settings)
            try:
                results.append(self._deliver(recipient.send_id, recipient.email, data))
            except (OSError, smtplib.SMTPException) as error:
                # The server cannot be reached now: nothing further in this batch was sent.
                reason = f"SMTP server {self.target.host}:{self.target.port} unreachable: {error}"
            except DeliveryError as error:
                if not results:
                    raise
                # Sent ones must be recorded; the next batch raises this again, at once.
                reason = str(error)
            else:
                continue
            results.extend(
                SendResult(r.send_id, "retry", reason=reason) for r in recipients[position:]
            )
            break
        return results

    def _deliver(self, send_id: int, address: str, data: bytes) -> SendResult:
        sender = self.settings.sender.email
        for fresh in (False, True):
            connection = self._connection(fresh=fresh)
            try:
                code, answer = connection.mail(sender)
                if code == 250:
                    code, answer = connection.rcpt(address)
            except OSError:
                # An idle connection the server closed (SMTPServerDisconnected is an OSError):
                # nothing of this message was sent yet, so one fresh connection may try again.
                self._drop()
                if fresh:
                    raise
                continue
            break
        if code not in (250, 251):
            connection.rset()
            return _refused(send_id, code, answer)
        try:
            code, answer = connection.data(data)
        except smtplib.SMTPDataError as error:
            # The DATA command itself was refused: the message never left.
            return _refused(send_id, error.smtp_code, error.smtp_error)
        except OSError as error:
            self._drop()
            return SendResult(
                send_id,
                "unknown",
                reason=f"the SMTP connection dropped while the message was being sent: {error}",
            )
        if code != 250:
            return _refused(send_id, code, answer)
        match = _MESSAGE_ID.search(data)
        return SendResult(
            send_id,
            "sent",
            provider_message_id=match[1].decode("ascii", "replace") if match else None,
        )

    def send_message(self, message: EmailMessage) -> str | None:
        """Send one whole message that is no campaign send (the owner's report), to each of its
        To addresses; its Message-ID. Raises DeliveryError when it was not accepted."""
        data = message.as_bytes(policy=email.policy.SMTP)
        message_id = None
        for address in recipients_of(message):
            try:
                result = self._deliver(0, address, data)
            except OSError as error:
                result = SendResult(0, "retry", reason=f"SMTP server unreachable: {error}")
            message_id = require_sent(result, message, "smtp")
        return message_id

    def _connection(self, *, fresh: bool) -> smtplib.SMTP:
        connection: smtplib.SMTP | None = getattr(self._local, "connection", None)
        if connection is not None and not fresh:
            return connection
        connection = self._connect()
        self._local.connection = connection
        with self._all_lock:
            self._all.append(connection)
        return connection

    def _connect(self) -> smtplib.SMTP:
        target = self.target
        where = f"the SMTP server {target.host}:{target.port}"
        try:
            return self._open_session()
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(
                f"{where} refused the login for {target.username!r} ({error.smtp_code}); "
                "check the user and password in smtp_url"
            ) from None
        except smtplib.SMTPNotSupportedError as error:
            raise DeliveryError(
                f"{where} does not support what smtp_url asks for ({error}); "
                "remove starttls or the user and password"
            ) from None
        except ssl.SSLCertVerificationError as error:
            raise DeliveryError(
                f"{where} has a certificate that cannot be trusted ({error.verify_message}); "
                "add cafile=PATH to smtp_url for a private certificate authority"
            ) from None

    def _open_session(self) -> smtplib.SMTP:
        target = self.target
        context = ssl.create_default_context(cafile=target.cafile)
        if target.implicit_tls:
            connection: smtplib.SMTP = smtplib.SMTP_SSL(
                target.host, target.port, timeout=self._timeout, context=context
            )
        else:
            connection = smtplib.SMTP(target.host, target.port, timeout=self._timeout)
        try:
            connection.ehlo()
            if target.starttls:
                connection.starttls(context=context)
                connection.ehlo()
            if target.username:
                connection.login(target.username, target.password or "")
        except BaseException:
            connection.close()
            raise
        return connection

    def _drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.close()

    def close(self) -> None:
        with self._all_lock:
            connections, self._all = self._all, []
        for connection in connections:
            try:
                connection.quit()
            except (OSError, smtplib.SMTPException):
                connection.close()
        self._local = threading.local()


def _refused(send_id: int, code: int, answer: bytes) -> SendResult:
    text = f"{code} {answer.decode('utf-8', 'replace')}".strip()
    if 400 <= code < 500:
        return SendResult(send_id, "retry", reason=f"SMTP server deferred: {text}")
    return SendResult(send_id, "failed", reason=f"SMTP server refused: {text}")
