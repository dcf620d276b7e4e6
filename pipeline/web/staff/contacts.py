"""The contacts pages: segment counts, search with paged results, one contact in full, CSV
import with its row report, and exporting or erasing one person's data on request."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from pipeline.contacts.importer import import_contacts
from pipeline.errors import InputError
from pipeline.metrics import local_today
from pipeline.models import StaffUser
from pipeline.shortlist import shorten
from pipeline.store import utcnow
from pipeline.store.contact_search import (
    ContactFilter,
    count_filtered,
    filter_condition,
    filtered_contacts,
    known_tags,
    segments_of_contacts,
)
from pipeline.store.contacts import (
    contact_count,
    contact_export,
    erase_contact,
    get_contact,
    resubscribe_contact,
    why_not_mailable,
)
from pipeline.store.segments import mailable_count, segment_counts
from pipeline.web.auth import staff_user
from pipeline.web.staff.contact_page import contact_page, contact_url
from pipeline.web.staff.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)
# Rejected rows listed on the page; the count says how many there were in all.
SHOWN_REJECTIONS = 200
# Search results per page: each row asks why_not_mailable, so a page stays a few dozen queries.
RESULTS_PER_PAGE = 25


def _page_number(raw: str) -> int:
    """The requested results page; anything but a positive whole number is the first page
    (a hand-edited link shows results rather than an error)."""
    try:
        number = int(raw)
    except ValueError:
        return 1
    return max(number, 1)


CONSENT_CHOICES = {
    "subscribed": "Subscribed",
    "unsubscribed": "Unsubscribed",
    "none": "None recorded",
}


def contact_filter_from(params) -> ContactFilter:
    """The filter in a request's query or form (unknown choices are ignored, not errors)."""
    consent = str(params.get("consent", ""))
    mailable = str(params.get("mailable", ""))
    return ContactFilter(
        query=" ".join(str(params.get("q", "")).split()),
        segment=str(params.get("segment", "")),
        consent=consent if consent in CONSENT_CHOICES else "",
        mailable=mailable if mailable in ("yes", "no") else "",
        tag=str(params.get("tag", "")).strip(),
    )


def _page(request: Request, page: str = "1", **extra) -> Response:
    settings = request.app.state.settings
    now = utcnow()
    today = local_today(settings.clinic.zone, now)
    segments = settings.segments
    labels = {segment.name: segment.label for segment in segments}
    chosen = contact_filter_from(request.query_params)
    condition = filter_condition(chosen, segments, today, now)
    with request.app.state.engine.connect() as conn:
        counts = segment_counts(conn, segments, today, now)
        total = contact_count(conn)
        mailable = mailable_count(conn, now)
        matching = count_filtered(conn, condition)
        last_page = max(1, -(-matching // RESULTS_PER_PAGE))
        number = min(_page_number(page), last_page)
        results = filtered_contacts(
            conn, condition, limit=RESULTS_PER_PAGE, offset=(number - 1) * RESULTS_PER_PAGE
        )
        ids = [contact.id for contact in results if contact.id is not None]
        in_segments = segments_of_contacts(conn, ids, segments, today)
        rows = [
            {
                "contact": contact,
                "not_mailable": why_not_mailable(conn, contact.id, now),
                "segments": [labels[name] for name in in_segments.get(contact.id, [])],
            }
            for contact in results
            if contact.id is not None
        ]
        tags = known_tags(conn)
    context = {
        "segments": segments,
        "counts": counts,
        "total": total,
        "mailable": mailable,
        "query": chosen.query,
        "chosen": chosen,
        "filter_query": chosen.as_query(),
        "consent_choices": CONSENT_CHOICES,
        "tags": tags,
        "results": rows,
        "matching": matching,
        "page_number": number,
        "last_page": last_page,
        "first_shown": (number - 1) * RESULTS_PER_PAGE + 1,
        "report": None,
        "shown_rejections": SHOWN_REJECTIONS,
        **extra,
    }
    return render(request, "contacts.html", context)


@router.get("/contacts")
def contacts_page(request: Request, email: str = "", page: str = "1") -> Response:
    """The contacts, narrowed by search words (`q`: every word must match an address, name or
    tag) and filters (segment, consent, mailable, tag), a page at a time; with `email`, one
    contact's page."""
    address = email.strip()
    if address:
        return contact_page(request, address)
    return _page(request, page=page)


# Most file systems take 255 bytes per name; the report quotes the name, so keep it short.
MAX_UPLOAD_NAME_BYTES = 120


def upload_name(filename: str) -> str:
    """The name an uploaded file is saved under while it is imported: its last path part (a
    browser on Windows may send "C:\\Users\\...\\clients.csv"), refused when it is empty,
    "." or "..", holds control characters, or is too long for a file system."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if name in ("", ".", "..") or any(ord(character) < 32 for character in name):
        raise InputError(f"the uploaded file's name {shorten(filename, 60)!r} cannot be used")
    if len(name.encode()) > MAX_UPLOAD_NAME_BYTES:
        raise InputError(
            f"the uploaded file's name is {len(name.encode()):,} bytes long; rename it to at "
            f"most {MAX_UPLOAD_NAME_BYTES} and upload it again"
        )
    return name


@router.post("/contacts/import")
async def contacts_import(request: Request) -> Response:
    """Import an uploaded CSV as `clinicmail contacts import` does: all rows or none, with a
    report of every rejected row (row and column)."""
    async with request.form() as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            flash(request, "Choose a CSV file to import.", "error")
            return redirect("/contacts")
        dry_run = form.get("dry_run") == "on"
        name = upload_name(upload.filename)
        settings = request.app.state.settings
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        # The importer reads a path (it sniffs encoding and delimiter); the upload lives in var/
        # only while it is imported, under its own name so row reports name the file staff chose.
        with tempfile.TemporaryDirectory(dir=settings.var_dir) as folder:
            path = Path(folder) / name
            path.write_bytes(await upload.read())
            try:
                report = import_contacts(request.app.state.engine, path, dry_run=dry_run)
            except InputError as problem:
                flash(request, f"Nothing was imported: {problem.detail}", "error")
                return redirect("/contacts")
    return _page(request, report=report, imported_name=name)


@router.get("/contacts/export")
def contacts_export(request: Request, email: str) -> Response:
    """Everything held about one person, as a JSON download (a subject access request)."""
    with request.app.state.engine.connect() as conn:
        document = contact_export(conn, email, utcnow())
    # Named by the clinic's day, like every date staff see, not the server's.
    filename = f"contact-export-{local_today(request.app.state.settings.clinic.zone):%Y%m%d}.json"
    return Response(
        json.dumps(document, indent=2, ensure_ascii=False),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post("/contacts/erase")
def contacts_erase(
    request: Request,
    user: Annotated[StaffUser, Depends(staff_user)],
    email: Annotated[str, Form()],
    confirm: Annotated[str, Form()] = "",
) -> Response:
    address = email.strip()
    if confirm.strip().lower() != address.lower():
        flash(request, "Type the address again to confirm the erasure.", "error")
        return redirect(contact_url(address))
    with request.app.state.engine.begin() as conn:
        deleted = erase_contact(conn, address, f"web:{user.email}", utcnow())
    if deleted:
        flash(request, f"Erased {address}: the contact is deleted and the address stays blocked.")
    else:
        flash(request, f"No contact held for {address}; the address is blocked all the same.")
    return redirect("/contacts")


@router.post("/contacts/resubscribe")
def contacts_resubscribe(
    request: Request,
    user: Annotated[StaffUser, Depends(staff_user)],
    email: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
) -> Response:
    """Add back a client who unsubscribed and has asked for newsletters again; how they asked
    is kept as the consent's wording."""
    address = email.strip()
    if not note.strip():
        flash(request, "Say how they asked to be added back (where, when, in what words).", "error")
        return redirect(contact_url(address))
    with request.app.state.engine.begin() as conn:
        contact = get_contact(conn, address)
        assert contact.id is not None
        added = resubscribe_contact(conn, contact.id, f"web:{user.email}", note.strip(), utcnow())
    if added:
        flash(request, f"{address} is subscribed again.")
    else:
        flash(request, f"{address} was not unsubscribed: nothing changed.", "error")
    return redirect(contact_url(address))
