"""One contact's page: attributes, consent and its history, suppressions, the emails sent to
them with what happened to each, their bookings, and the staff actions on them (unsubscribe at
their request, subscribe again, export, erase)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from pipeline.errors import NotFoundError
from pipeline.metrics import local_today
from pipeline.models import StaffUser
from pipeline.store import utcnow
from pipeline.store.bookings import any_bookings
from pipeline.store.contact_search import segments_of_contacts
from pipeline.store.contacts import contact_export, get_contact, unsubscribe_contact
from pipeline.web.auth import staff_user
from pipeline.web.staff.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)
# How a client can ask to stop: what a staff unsubscribe records beside who entered it.
ASKED_BY = {
    "phone": "by phone",
    "in-person": "in person",
    "email": "by email",
    "letter": "by letter",
    "other": "another way",
}
# The events worth a column in a contact's history of emails, in the order they happen.
ENGAGEMENT = ("delivered", "open", "click", "bounce", "dropped", "unsubscribe", "spamreport")


def contact_url(address: str) -> str:
    """The contact's page; the address quoted, as `+` would read as a space."""
    return f"/contacts?{urlencode({'email': address})}"


def contact_page(request: Request, address: str) -> Response:
    settings = request.app.state.settings
    now = utcnow()
    segments = settings.segments
    labels = {segment.name: segment.label for segment in segments}
    with request.app.state.engine.connect() as conn:
        try:
            found = get_contact(conn, address)
        except NotFoundError:
            flash(request, f"No contact with the address {address}.", "error")
            return redirect("/contacts")
        held = contact_export(conn, found.email, now)
        assert found.id is not None
        bookings_imported = any_bookings(conn)
        names = segments_of_contacts(
            conn, [found.id], segments, local_today(settings.clinic.zone, now)
        ).get(found.id, [])
    history = [
        {**send, "happened": Counter(event["event"] for event in send["events"])}
        for send in reversed(held["sends"])
    ]
    context = {
        "found": found,
        "held": held,
        "not_mailable": held.get("why_not_mailable"),
        "segment_labels": [labels.get(name, name) for name in names],
        "history": history,
        "bookings": [
            {
                **booking,
                "starts_at": datetime.fromisoformat(booking["starts_at"]),
                "booked_at": datetime.fromisoformat(booking["booked_at"]),
            }
            for booking in held.get("bookings", [])
        ],
        "bookings_imported": bookings_imported,
        "engagement": ENGAGEMENT,
        "asked_by": ASKED_BY,
    }
    return render(request, "contact.html", context)


@router.post("/contacts/unsubscribe")
def staff_unsubscribe(
    request: Request,
    user: Annotated[StaffUser, Depends(staff_user)],
    email: Annotated[str, Form()],
    asked: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    """Unsubscribe a client who asked staff to (by phone, at reception...), recording how."""
    address = email.strip()
    if asked not in ASKED_BY:
        flash(request, "Say how they asked to be unsubscribed.", "error")
        return redirect(contact_url(address))
    wording = f"asked {ASKED_BY[asked]}" + (f": {note.strip()}" if note.strip() else "")
    with request.app.state.engine.begin() as conn:
        contact = get_contact(conn, address)
        assert contact.id is not None
        changed = unsubscribe_contact(conn, contact.id, f"staff:{user.email}", utcnow(), wording)
    if changed:
        flash(request, f"{address} is unsubscribed ({wording}). No more newsletters go to them.")
    else:
        flash(request, f"{address} was already unsubscribed: nothing changed.", "error")
    return redirect(contact_url(address))
