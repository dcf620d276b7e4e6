"""Endpoints SendGrid calls: the Signed Event Webhook (delivery, engagement and complaint events)
and Inbound Parse for the unsubscribe mailbox named in every email's List-Unsubscribe header."""

from __future__ import annotations

import logging
import re
import threading
from contextlib import nullcontext
from email.utils import getaddresses

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from pipeline.config import WEBHOOK_PATH, Settings
from pipeline.errors import BadToken, ConfigError, InputError
from pipeline.models import Event
from pipeline.store import utcnow
from pipeline.store.events import IngestReport, record_events, record_unsubscribe
from pipeline.tracking import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    event_items,
    parse_event,
    read_token,
    verify_webhook,
)
from pipeline.web.public import resolve_link

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

# SendGrid posts at most about 768 KB; anything far past that is not SendGrid.
MAX_WEBHOOK_BYTES = 2 * 1024 * 1024
# Inbound Parse posts the whole message (attachments too); an unsubscribe request is tiny.
MAX_INBOUND_BYTES = 5 * 1024 * 1024
# A signed batch older (or newer) than this is refused, so a captured request cannot be replayed.
SIGNATURE_TOLERANCE_SECONDS = 600

# A run of the characters a signed token is made of (base64url and the dot before its signature).
# A token is the whole run or a tail of it after a "-" (it never starts with "-" or ".").
_TOKEN_RUN = re.compile(r"[A-Za-z0-9_.\-]{20,}")
_MAX_TRIES_PER_RUN = 64


_SQLITE_WRITER = threading.Lock()


class BodyTooLarge(Exception):
    pass


async def read_body_limited(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it passes `limit` bytes (a declared length over the
    limit is refused before anything is read)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


def parse_batch(body: bytes) -> tuple[list[Event], int]:
    """The usable events of a batch and how many items were not events. A batch that is not
    JSON raises InputError; one odd item does not sink the rest, because SendGrid would retry
    the whole batch for a day."""
    items = event_items(body)
    usable: list[Event] = []
    for index, item in enumerate(items):
        try:
            usable.append(parse_event(item, index))
        except InputError:
            continue
    return usable, len(items) - len(usable)


@router.post(WEBHOOK_PATH)
async def sendgrid_events(request: Request) -> Response:
    """Store a signed batch of SendGrid events, each once, and act on it."""
    settings: Settings = request.app.state.settings
    signature = request.headers.get(SIGNATURE_HEADER)
    timestamp = request.headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        return _problem(403, "missing Event Webhook signature headers")
    try:
        body = await read_body_limited(request, MAX_WEBHOOK_BYTES)
    except BodyTooLarge:
        return _problem(413, f"event batch larger than {MAX_WEBHOOK_BYTES} bytes")
    key = settings.webhook_verification_key()
    if key is None:
        log.error(
            "Event Webhook call refused: no verification key; set SENDGRID_WEBHOOK_PUBLIC_KEY "
            "(with the local backend, start the local server once so that it writes its key)"
        )
        return _problem(403, "this server has no Event Webhook verification key configured")
    try:
        verified = verify_webhook(key, signature, timestamp, body, SIGNATURE_TOLERANCE_SECONDS)
    except ConfigError as error:
        log.error("Event Webhook call refused: %s", error)
        return _problem(503, "the Event Webhook verification key is misconfigured")
    if not verified:
        return _problem(403, "signature does not verify or timestamp is stale")
    try:
        batch, ignored = parse_batch(body)
    except InputError as error:
        return _problem(400, str(error))
    report = await run_in_threadpool(_store_batch, request, batch)
    if ignored:
        log.warning("Event Webhook batch: %d item(s) were not usable events", ignored)
    return JSONResponse(
        {
            "received": report.received + ignored,
            "stored": report.stored,
            "duplicates": report.duplicates,
            "ignored": ignored,
        }
    )


def _store_batch(request: Request, batch: list[Event]) -> IngestReport:
    settings: Settings = request.app.state.settings
    engine = request.app.state.engine
    # SQLite has one writer at a time, and a writer that finds the database locked sleeps in
    # steps of up to 100 ms before trying again. Batches arriving together queue on a lock in
    # this process instead, and each starts the moment the previous one commits.
    writer = _SQLITE_WRITER if engine.dialect.name == "sqlite" else nullcontext()
    with writer, engine.begin() as conn:
        return record_events(
            conn,
            batch,
            zone=settings.clinic.zone,
            booking_url=settings.clinic.booking_url,
            received_at=utcnow(),
        )


def _addresses(value: str) -> list[str]:
    return [address for _, address in getaddresses([value]) if address]


def _token_candidates(text: str) -> list[str]:
    """Tails of token-like runs in `text` holding one dot: the subject reads
    "unsubscribe-<token>", and a token may contain "-" itself, so each tail after a dash is a
    candidate."""
    candidates: list[str] = []
    for run in _TOKEN_RUN.findall(text):
        run = run.rstrip(".")
        starts = [0] + [i + 1 for i, char in enumerate(run) if char == "-"]
        tails = (run[start:] for start in starts[:_MAX_TRIES_PER_RUN])
        candidates.extend(tail for tail in tails if tail.count(".") == 1)
    return candidates


def find_unsubscribe_token(settings: Settings, to: str, subject: str) -> str | None:
    """The first valid unsubscribe token in a message to the unsubscribe mailbox: after a `+`
    in the address, or in the subject. None when the message is not one of ours."""
    mailbox = settings.sender.unsubscribe_mailbox
    if mailbox is None:
        return None
    local, _, domain = str(mailbox).lower().partition("@")
    candidates: list[str] = []
    addressed = False
    for address in _addresses(to):
        address_local, _, address_domain = address.rpartition("@")
        base, _, tag = address_local.partition("+")
        # Tokens are case-sensitive: only the mailbox itself is compared without case.
        if base.lower() == local and address_domain.lower() == domain:
            addressed = True
            candidates.extend(_token_candidates(tag))
    if not addressed:
        return None
    candidates.extend(_token_candidates(subject))
    secret = settings.secret_key.get_secret_value()
    for candidate in candidates:
        try:
            read_token(secret, "unsubscribe", candidate)
        except BadToken:
            continue
        return candidate
    return None


@router.post("/webhooks/inbound")
async def inbound_unsubscribe(request: Request) -> Response:
    """SendGrid Inbound Parse: a message to the unsubscribe mailbox carrying a signed token
    unsubscribes that contact. Anything else is ignored and nothing of it is kept. Always 200
    for a readable post, so SendGrid does not retry mail we chose to ignore."""
    settings: Settings = request.app.state.settings
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_INBOUND_BYTES:
        return _problem(413, f"inbound message larger than {MAX_INBOUND_BYTES} bytes")
    try:
        form = await request.form(max_files=50, max_fields=100)
    except Exception:
        return _problem(400, "expected an Inbound Parse multipart form")
    to = str(form.get("to") or "")
    subject = str(form.get("subject") or "")
    await form.close()
    token = find_unsubscribe_token(settings, to, subject)
    if token is None:
        return JSONResponse({"unsubscribed": False})
    done = await run_in_threadpool(_unsubscribe_by_token, request, token)
    return JSONResponse({"unsubscribed": done})


def _unsubscribe_by_token(request: Request, token: str) -> bool:
    settings: Settings = request.app.state.settings
    with request.app.state.engine.begin() as conn:
        recipient = resolve_link(conn, settings, "unsubscribe", token)
        if recipient is None:
            return False
        record_unsubscribe(
            conn,
            recipient.contact_id,
            recipient.send_id,
            source="mailto",
            now=utcnow(),
            zone=settings.clinic.zone,
        )
        return True
