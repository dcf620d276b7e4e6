"""The pages a client reaches from an email, with no sign-in: unsubscribe (with RFC 8058
one-click), the preference centre and view-online. Each takes a signed, never-expiring token."""

from __future__ import annotations

import logging
from calendar import monthrange
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from pipeline.config import Settings
from pipeline.errors import BadToken, ClinicmailError
from pipeline.models import GENERAL_SEGMENT, Recipient, Segment
from pipeline.render.message import personalise, recipient_values
from pipeline.store import utcnow
from pipeline.store.contacts import address_suppressed, resubscribe_contact
from pipeline.store.events import record_unsubscribe
from pipeline.store.outbox import load_rendered_variant
from pipeline.store.preferences import LinkContact, get_send, link_contact, set_pause, set_topics
from pipeline.tracking import TokenPurpose, make_token, read_token

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates" / "public")

PAUSE_MONTHS = 3
# What a client's own resubscription records as the consent's source and wording.
RESUBSCRIBE_SOURCE = "resubscribe link"
RESUBSCRIBE_WORDING = "Chose to subscribe again from the unsubscribe link in one of our emails."
# Links carry a token, so the pages must not leak it onward, be cached or be indexed.
_PRIVATE_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
}


@dataclass(frozen=True)
class LinkRecipient:
    contact: LinkContact
    send_id: int | None

    @property
    def contact_id(self) -> int:
        return self.contact.id


def resolve_link(
    conn: Connection, settings: Settings, purpose: TokenPurpose, token: str
) -> LinkRecipient | None:
    """Who a link belongs to, or None when the token is not ours, was altered, or its contact
    is gone (erased, or the id now holds another address: the token carries part of its hash)."""
    try:
        payload = read_token(settings.secret_key.get_secret_value(), purpose, token)
    except BadToken:
        return None
    # read_token hands back `c` and `s` as ints; a token without the hash is not a link's.
    hash_prefix = payload.get("h")
    if not hash_prefix:
        return None
    contact = link_contact(conn, payload["c"])
    if contact is None or not contact.email_hash.startswith(hash_prefix):
        return None
    return LinkRecipient(contact, payload.get("s"))


def masked_email(email: str) -> str:
    """Enough of an address for its owner to recognise it, not enough to harvest it."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}{'•' * min(max(len(local) - 1, 1), 6)}@{domain}"


def months_later(moment: datetime, months: int, settings: Settings) -> datetime:
    """The same local time `months` calendar months on (the last day of a shorter month)."""
    local = moment.astimezone(settings.clinic.zone)
    month_index = local.month - 1 + months
    year, month = local.year + month_index // 12, month_index % 12 + 1
    day = min(local.day, monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def topic_choices(settings: Settings) -> list[Segment]:
    """The topics a client may pick: segments that are not health-sensitive (a sensitive one's
    label would tell the client, or anyone looking over their shoulder, what we know)."""
    try:
        segments = settings.segments
    except ClinicmailError as error:
        log.error("preference page shows no topics: %s", error)
        return []
    return [segment for segment in segments if not segment.sensitive]


def _page(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    return templates.TemplateResponse(
        request,
        name,
        {"clinic": settings.clinic, **context},
        status_code=status_code,
        headers=_PRIVATE_HEADERS,
    )


def _not_found(request: Request) -> HTMLResponse:
    return _page(request, "not_found.html", {}, status_code=404)


def _resolve(request: Request, purpose: TokenPurpose, token: str) -> LinkRecipient | None:
    with request.app.state.engine.connect() as conn:
        return resolve_link(conn, request.app.state.settings, purpose, token)


def _token_for(settings: Settings, purpose: TokenPurpose, token: str, source: TokenPurpose) -> str:
    """The link of another purpose for the same recipient (e.g. preferences from unsubscribe)."""
    secret = settings.secret_key.get_secret_value()
    return make_token(secret, purpose, read_token(secret, source, token))


def _resubscribe_path(unsubscribe_token: str) -> str:
    """Where the "Subscribe again" button posts: under the recipient's unsubscribe link."""
    return f"/u/{unsubscribe_token}/resubscribe"


def _unsubscribe(request: Request, recipient: LinkRecipient, source: str) -> bool:
    settings: Settings = request.app.state.settings
    with request.app.state.engine.begin() as conn:
        return record_unsubscribe(
            conn,
            recipient.contact_id,
            recipient.send_id,
            source=source,
            now=utcnow(),
            zone=settings.clinic.zone,
        )


@router.get("/u/{token}")
async def unsubscribe_page(request: Request, token: str) -> Response:
    """Ask before unsubscribing: link scanners follow GET links, so only the POST acts."""
    recipient = await run_in_threadpool(_resolve, request, "unsubscribe", token)
    if recipient is None:
        return _not_found(request)
    settings: Settings = request.app.state.settings
    return _page(
        request,
        "unsubscribe.html",
        {
            "email": masked_email(recipient.contact.email),
            "already": recipient.contact.consent_status == "unsubscribed",
            "action": f"/u/{token}",
            "resubscribe": _resubscribe_path(token),
            "preferences": f"/p/{_token_for(settings, 'preferences', token, 'unsubscribe')}",
        },
    )


@router.post("/u/{token}")
async def unsubscribe_now(request: Request, token: str) -> Response:
    """RFC 8058 one-click (`List-Unsubscribe=One-Click`) and the confirmation page's button:
    no sign-in, no cookies, and repeating it changes nothing."""
    recipient = await run_in_threadpool(_resolve, request, "unsubscribe", token)
    if recipient is None:
        return _not_found(request)
    form = await request.form(max_files=0, max_fields=10)
    one_click = form.get("List-Unsubscribe") == "One-Click"
    await form.close()
    source = "one-click" if one_click else "web"
    await run_in_threadpool(_unsubscribe, request, recipient, source)
    return _unsubscribed_page(request, recipient, token)


def _unsubscribed_page(request: Request, recipient: LinkRecipient, token: str) -> HTMLResponse:
    """The page after unsubscribing, with a way back for a client who clicked by mistake."""
    return _page(
        request,
        "unsubscribed.html",
        {
            "email": masked_email(recipient.contact.email),
            "resubscribe": _resubscribe_path(token),
        },
    )


def _resubscribe(request: Request, recipient: LinkRecipient) -> tuple[bool, bool]:
    """Subscribe an unsubscribed client again; (subscribed now, address still suppressed)."""
    with request.app.state.engine.begin() as conn:
        resubscribed = resubscribe_contact(
            conn, recipient.contact_id, RESUBSCRIBE_SOURCE, RESUBSCRIBE_WORDING, utcnow()
        )
        suppressed = address_suppressed(conn, recipient.contact.email_hash)
    return resubscribed or recipient.contact.consent_status == "subscribed", suppressed


@router.post("/u/{token}/resubscribe")
async def resubscribe(request: Request, token: str) -> Response:
    """Undo an unsubscribe from the same link: the client asks for newsletters again with a
    button (a POST, so link scanners never do it). Only an unsubscribed client changes."""
    recipient = await run_in_threadpool(_resolve, request, "unsubscribe", token)
    if recipient is None:
        return _not_found(request)
    subscribed, suppressed = await run_in_threadpool(_resubscribe, request, recipient)
    settings: Settings = request.app.state.settings
    paused_until = recipient.contact.paused_until
    return _page(
        request,
        "resubscribed.html",
        {
            "email": masked_email(recipient.contact.email),
            "subscribed": subscribed,
            "suppressed": suppressed,
            "paused_until": (
                paused_until.astimezone(settings.clinic.zone)
                if paused_until is not None and paused_until > utcnow()
                else None
            ),
            "preferences": f"/p/{_token_for(settings, 'preferences', token, 'unsubscribe')}",
        },
    )


@router.get("/p/{token}")
async def preferences_page(request: Request, token: str, done: str | None = None) -> Response:
    recipient = await run_in_threadpool(_resolve, request, "preferences", token)
    if recipient is None:
        return _not_found(request)
    settings: Settings = request.app.state.settings
    contact = recipient.contact
    paused = contact.paused_until is not None and contact.paused_until > utcnow()
    choices = topic_choices(settings)
    chosen = set(contact.topics)
    return _page(
        request,
        "preferences.html",
        {
            "email": masked_email(contact.email),
            "action": f"/p/{token}",
            "unsubscribed": contact.consent_status == "unsubscribed",
            "resubscribe": _resubscribe_path(
                _token_for(settings, "unsubscribe", token, "preferences")
            ),
            "choices": [
                {
                    "code": segment.code,
                    "label": segment.label,
                    "checked": segment.name in chosen,
                    "general": segment.name == GENERAL_SEGMENT,
                }
                for segment in choices
            ],
            "all_topics": not chosen,
            "paused_until": (
                contact.paused_until.astimezone(settings.clinic.zone) if paused else None
            ),
            "pause_months": PAUSE_MONTHS,
            "done": done if done in {"topics", "paused", "resumed"} else None,
        },
    )


def _save_preferences(request: Request, recipient: LinkRecipient, action: str, codes: list[str]):
    settings: Settings = request.app.state.settings
    now = utcnow()
    names = {segment.code: segment.name for segment in topic_choices(settings)}
    with request.app.state.engine.begin() as conn:
        if action == "pause":
            set_pause(conn, recipient.contact_id, months_later(now, PAUSE_MONTHS, settings), now)
        elif action == "resume":
            set_pause(conn, recipient.contact_id, None, now)
        else:
            wanted = [] if "all" in codes else [names[code] for code in codes if code in names]
            set_topics(conn, recipient.contact_id, wanted, now)


@router.post("/p/{token}")
async def save_preferences(request: Request, token: str) -> Response:
    recipient = await run_in_threadpool(_resolve, request, "preferences", token)
    if recipient is None:
        return _not_found(request)
    form = await request.form(max_files=0, max_fields=50)
    action = str(form.get("action") or "topics")
    codes = [str(value) for value in form.getlist("topic")]
    await form.close()
    if action == "unsubscribe":
        await run_in_threadpool(_unsubscribe, request, recipient, "preferences")
        settings: Settings = request.app.state.settings
        unsubscribe_token = _token_for(settings, "unsubscribe", token, "preferences")
        return _unsubscribed_page(request, recipient, unsubscribe_token)
    if action not in {"topics", "pause", "resume"}:
        action = "topics"
    await run_in_threadpool(_save_preferences, request, recipient, action, codes)
    done = {"topics": "topics", "pause": "paused", "resume": "resumed"}[action]
    return RedirectResponse(f"/p/{token}?done={done}", status_code=303, headers=_PRIVATE_HEADERS)


def _view_html(request: Request, token: str) -> str | None:
    settings: Settings = request.app.state.settings
    with request.app.state.engine.connect() as conn:
        recipient = resolve_link(conn, settings, "view", token)
        if recipient is None or recipient.send_id is None:
            return None
        send = get_send(conn, recipient.send_id)
        # Only the email this recipient was sent: a token never opens someone else's send.
        if send is None or send.contact_id != recipient.contact_id:
            return None
        rendered = load_rendered_variant(conn, send.variant_id)
    contact = recipient.contact
    values = recipient_values(settings, contact.id, contact.email, contact.first_name, send.id)
    message = personalise(rendered, Recipient(send.id, contact.email, values), settings)
    return message.html


@router.get("/v/{token}")
async def view_online(request: Request, token: str) -> Response:
    html = await run_in_threadpool(_view_html, request, token)
    if html is None:
        return _not_found(request)
    return HTMLResponse(
        html,
        headers={
            **_PRIVATE_HEADERS,
            "Content-Security-Policy": "script-src 'none'; object-src 'none'; base-uri 'none'",
        },
    )
