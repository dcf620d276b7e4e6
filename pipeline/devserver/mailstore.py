"""What the local SendGrid-compatible server keeps under var/local-sendgrid/: the requests it
accepted (readable per recipient, as that recipient would see the email) and its signing key."""

from __future__ import annotations

import base64
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pipeline.config import LOCAL_PUBLIC_KEY_FILE, Settings
from pipeline.errors import NotFoundError

MAIL_FOLDER = "mail"
SIGNING_KEY_FILE = "webhook_signing_key.pem"


@dataclass(frozen=True)
class LocalMessage:
    """One recipient's email as the local server accepted it. `id` is "<X-Message-Id>-<index>";
    html, text and subject have that recipient's substitutions applied (only on `get`)."""

    id: str
    request_id: str
    index: int
    received_at: datetime
    to: str
    from_email: str
    subject: str
    categories: tuple[str, ...]
    custom_args: Mapping[str, str]
    headers: Mapping[str, str]
    html: str = ""
    text: str = ""


class LocalMailStore:
    """Accepted request bodies, one JSON file per request, named so they sort by arrival."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.mail_dir = directory / MAIL_FOLDER

    def save(self, request_id: str, received_at: datetime, body: bytes) -> None:
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        stamp = int(received_at.timestamp() * 1_000_000)
        final = self.mail_dir / f"{stamp:020d}-{request_id}.json"
        handle, temporary = tempfile.mkstemp(dir=self.mail_dir, suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            file.write(body)
        os.replace(temporary, final)

    def _files_newest_first(self) -> Iterator[Path]:
        if not self.mail_dir.is_dir():
            return iter(())
        return iter(sorted(self.mail_dir.glob("*.json"), reverse=True))

    def list_messages(self, limit: int = 50, offset: int = 0) -> list[LocalMessage]:
        """Newest first, one per recipient, without the bodies."""
        found: list[LocalMessage] = []
        skipped = 0
        for path in self._files_newest_first():
            body, request_id, received_at = _read_request(path)
            personalizations = body.get("personalizations") or []
            for index in reversed(range(len(personalizations))):
                if skipped < offset:
                    skipped += 1
                    continue
                found.append(_message(body, request_id, received_at, index, with_content=False))
                if len(found) >= limit:
                    return found
        return found

    def get_message(self, message_id: str) -> LocalMessage:
        request_id, _, index_text = message_id.rpartition("-")
        matches = list(self.mail_dir.glob(f"*-{request_id}.json")) if request_id else []
        if not matches or not index_text.isdigit():
            raise NotFoundError(f"no message {message_id!r} in the local SendGrid server's store")
        body, request_id, received_at = _read_request(matches[0])
        index = int(index_text)
        if index >= len(body.get("personalizations") or []):
            raise NotFoundError(f"no message {message_id!r} in the local SendGrid server's store")
        return _message(body, request_id, received_at, index, with_content=True)


def _read_request(path: Path) -> tuple[dict[str, Any], str, datetime]:
    stamp, _, request_id = path.stem.partition("-")
    received_at = datetime.fromtimestamp(int(stamp) / 1_000_000, tz=UTC)
    return json.loads(path.read_bytes()), request_id, received_at


def _message(
    body: Mapping[str, Any], request_id: str, received_at: datetime, index: int, with_content: bool
) -> LocalMessage:
    personalization = body["personalizations"][index]
    substitutions: Mapping[str, str] = personalization.get("substitutions") or {}
    subject = personalization.get("subject") or body.get("subject") or ""
    html = text = ""
    if with_content:
        for content in body.get("content") or []:
            if content.get("type") == "text/html":
                html = apply_substitutions(content.get("value", ""), substitutions)
            elif content.get("type") == "text/plain":
                text = apply_substitutions(content.get("value", ""), substitutions)
    sender = personalization.get("from") or body.get("from") or {}
    custom_args = {
        **_as_dict(body.get("custom_args")),
        **_as_dict(personalization.get("custom_args")),
    }
    return LocalMessage(
        id=f"{request_id}-{index}",
        request_id=request_id,
        index=index,
        received_at=received_at,
        to=", ".join(to.get("email", "") for to in personalization.get("to") or []),
        from_email=sender.get("email", ""),
        subject=apply_substitutions(subject, substitutions),
        categories=tuple(body.get("categories") or ()),
        custom_args={str(key): str(value) for key, value in custom_args.items()},
        headers={**(body.get("headers") or {}), **(personalization.get("headers") or {})},
        html=html,
        text=text,
    )


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def apply_substitutions(text: str, substitutions: Mapping[str, str]) -> str:
    """What SendGrid does with `substitutions`: replace every key with its value, longest key
    first so a key that contains another is not cut in two."""
    for key in sorted(substitutions, key=len, reverse=True):
        text = text.replace(key, str(substitutions[key]))
    return text


def list_local_messages(settings: Settings, limit: int = 50, offset: int = 0) -> list[LocalMessage]:
    """The emails the local SendGrid server accepted, newest first (for the staff web app)."""
    return LocalMailStore(settings.local_sendgrid_dir).list_messages(limit, offset)


def get_local_message(settings: Settings, message_id: str) -> LocalMessage:
    """One accepted email with its recipient's HTML and text; NotFoundError when unknown."""
    return LocalMailStore(settings.local_sendgrid_dir).get_message(message_id)


def load_or_create_signing_key(directory: Path) -> ec.EllipticCurvePrivateKey:
    """The server's own Event Webhook signing key (P-256), made once and kept private (0600);
    its public half is written beside it as SendGrid shows one: base64 DER SPKI."""
    key_path = directory / SIGNING_KEY_FILE
    if key_path.is_file():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{key_path} is not an ECDSA key; delete it to make a new one")
    else:
        directory.mkdir(parents=True, exist_ok=True)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        descriptor = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
    (directory / LOCAL_PUBLIC_KEY_FILE).write_text(public_key_b64(key), encoding="ascii")
    return key


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")
