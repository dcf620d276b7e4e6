"""The bookings page: import the booking system's appointments export (as `clinicmail bookings
import` does) with its row report, and how bookings are credited to campaign emails."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from pipeline.bookings.figures import attribution_key
from pipeline.bookings.importer import BookingsReport, import_bookings
from pipeline.errors import InputError
from pipeline.store.bookings import booking_count
from pipeline.web.staff.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)
SHOWN_REJECTIONS = 200


def _page(
    request: Request, report: BookingsReport | None = None, imported_name: str = ""
) -> Response:
    with request.app.state.engine.connect() as conn:
        held = booking_count(conn)
    context = {
        "held": held,
        "report": report,
        "imported_name": imported_name,
        "shown_rejections": SHOWN_REJECTIONS,
        "attribution": request.app.state.settings.attribution,
    }
    return render(request, "bookings.html", context)


@router.get("/bookings")
def bookings_page(request: Request) -> Response:
    return _page(request)


@router.post("/bookings/import")
async def bookings_import(request: Request) -> Response:
    """Import an uploaded appointments CSV: all rows or none, every rejected row reported."""
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        flash(request, "Choose a CSV file to import.", "error")
        return redirect("/bookings")
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
            report = import_bookings(
                request.app.state.engine,
                path,
                zone=settings.clinic.zone,
                attribution=attribution_key(settings),
                dry_run=dry_run,
            )
        except InputError as problem:
            flash(request, f"Nothing was imported: {problem.detail}", "error")
            return redirect("/bookings")
    return _page(request, report=report, imported_name=name)
