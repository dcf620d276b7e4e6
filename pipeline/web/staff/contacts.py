"""The contacts pages: segment counts, finding a contact, CSV import with its row report, and
exporting or erasing one person's data on request."""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from pipeline.contacts.importer import import_contacts
from pipeline.errors import ClinicmailError, InputError
from pipeline.models import StaffUser
from pipeline.segments import load_segments
from pipeline.store import utcnow
from pipeline.store.contacts import (
    contact_count,
    contact_export,
    erase_contact,
    get_contact,
    why_not_mailable,
)
from pipeline.store.segments import mailable_count, segment_counts
from pipeline.web.auth import staff_user
from pipeline.web.staff.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)
# Rejected rows listed on the page; the count says how many there were in all.
SHOWN_REJECTIONS = 200


def _page(request: Request, **extra) -> Response:
    settings = request.app.state.settings
    now = utcnow()
    segments = load_segments(settings.workspace)
    with request.app.state.engine.connect() as conn:
        counts = segment_counts(conn, segments, now.astimezone(settings.clinic.zone).date(), now)
        total = contact_count(conn)
        mailable = mailable_count(conn, now)
    context = {
        "segments": segments,
        "counts": counts,
        "total": total,
        "mailable": mailable,
        "found": None,
        "query": "",
        "report": None,
        "shown_rejections": SHOWN_REJECTIONS,
        **extra,
    }
    return render(request, "contacts.html", context)


@router.get("/contacts")
def contacts_page(request: Request, email: str = "") -> Response:
    found = None
    not_mailable = None
    query = email.strip()
    if query:
        with request.app.state.engine.connect() as conn:
            try:
                found = get_contact(conn, query)
            except ClinicmailError:
                flash(request, f"No contact with the address {query}.", "error")
                return redirect("/contacts")
            assert found.id is not None
            not_mailable = why_not_mailable(conn, found.id, utcnow())
    return _page(request, found=found, query=query, not_mailable=not_mailable)


@router.post("/contacts/import")
async def contacts_import(request: Request) -> Response:
    """Import an uploaded CSV as `clinicmail contacts import` does: all rows or none, with a
    report of every rejected row (row and column)."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        flash(request, "Choose a CSV file to import.", "error")
        return redirect("/contacts")
    dry_run = form.get("dry_run") == "on"
    name = Path(upload.filename).name
    settings = request.app.state.settings
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    # The importer reads a path (it sniffs encoding and delimiter); the upload lives in var/
    # only while it is imported, under its own name so row reports name the file staff chose.
    with tempfile.TemporaryDirectory(dir=settings.var_dir) as folder:
        path = Path(folder) / name
        try:
            path.write_bytes(await upload.read())
        finally:
            await upload.close()
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
    stamp = datetime.now().strftime("%Y%m%d")
    filename = f"contact-export-{stamp}.json"
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
        return redirect(f"/contacts?email={address}")
    with request.app.state.engine.begin() as conn:
        deleted = erase_contact(conn, address, f"web:{user.email}", utcnow())
    if deleted:
        flash(request, f"Erased {address}: the contact is deleted and the address stays blocked.")
    else:
        flash(request, f"No contact held for {address}; the address is blocked all the same.")
    return redirect("/contacts")
