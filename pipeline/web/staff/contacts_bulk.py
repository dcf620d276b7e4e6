"""Bulk actions on the contacts a filter selects: add a tag, unsubscribe (at their request) or
erase. Each is confirmed on a page of its own that says how many contacts it touches and
names a few; it runs only if the filter still selects that many."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from pipeline.errors import InputError
from pipeline.metrics import local_today
from pipeline.models import StaffUser
from pipeline.store import utcnow
from pipeline.store.contact_search import (
    add_tag,
    count_filtered,
    filter_condition,
    filtered_contacts,
    filtered_ids,
)
from pipeline.store.contacts import erase_contact, get_contact_by_id, unsubscribe_contact
from pipeline.web.auth import staff_user
from pipeline.web.staff.contacts import contact_filter_from
from pipeline.web.staff.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)
Staff = Annotated[StaffUser, Depends(staff_user)]
ACTIONS = {
    "tag": "Add the tag “{tag}” to",
    "unsubscribe": "Unsubscribe, at their request,",
    "erase": "Erase",
}
SAMPLE = 10


def _selection(request: Request, params):
    settings = request.app.state.settings
    now = utcnow()
    chosen = contact_filter_from(params)
    if not chosen.narrows:
        raise InputError("choose a filter or search first: bulk actions never apply to everyone")
    segments = settings.segments
    condition = filter_condition(chosen, segments, local_today(settings.clinic.zone, now), now)
    return chosen, condition


def _back(chosen) -> str:
    return f"/contacts?{urlencode(chosen.as_query())}"


@router.post("/contacts/bulk/confirm")
async def confirm_bulk_action(request: Request) -> Response:
    form = await request.form()
    action = str(form.get("action", ""))
    tag = str(form.get("new_tag", "")).strip()
    try:
        chosen, condition = _selection(request, form)
        if action not in ACTIONS:
            raise InputError("choose what to do with the selected contacts")
        if action == "tag" and not tag:
            raise InputError("type the tag to add")
    except InputError as problem:
        flash(request, problem.detail[:1].upper() + problem.detail[1:] + ".", "error")
        return redirect(_back(contact_filter_from(form)))
    with request.app.state.engine.connect() as conn:
        count = count_filtered(conn, condition)
        sample = filtered_contacts(conn, condition, limit=SAMPLE)
    context = {
        "action": action,
        "describe": ACTIONS[action].format(tag=tag),
        "tag": tag,
        "count": count,
        "sample": sample,
        "filter_query": chosen.as_query(),
        "back": _back(chosen),
    }
    return render(request, "contacts_bulk.html", context)


@router.post("/contacts/bulk")
async def run_bulk_action(request: Request, user: Staff) -> Response:
    form = await request.form()
    action = str(form.get("action", ""))
    chosen, condition = _selection(request, form)
    back = _back(chosen)
    if action == "erase" and str(form.get("confirm", "")).strip().lower() != "erase":
        flash(request, "Type “erase” to confirm the erasure; nothing was erased.", "error")
        return redirect(back)
    now = utcnow()
    with request.app.state.engine.begin() as conn:
        ids = filtered_ids(conn, condition)
        if str(len(ids)) != str(form.get("expected", "")):
            flash(
                request,
                f"The selection changed meanwhile ({len(ids):,} contacts now): check it and "
                "confirm again. Nothing was changed.",
                "error",
            )
            return redirect(back)
        if action == "tag":
            tag = str(form.get("new_tag", ""))
            changed = add_tag(conn, ids, tag, now)
            message = f"Tagged {changed:,} contacts “{tag}” ({len(ids) - changed:,} had it)."
        elif action == "unsubscribe":
            source = f"staff:{user.email}"
            wording = "asked staff (bulk unsubscribe)"
            changed = sum(unsubscribe_contact(conn, i, source, now, wording) for i in ids)
            message = f"Unsubscribed {changed:,} contacts ({len(ids) - changed:,} already were)."
        elif action == "erase":
            for contact_id in ids:
                address = get_contact_by_id(conn, contact_id).email
                erase_contact(conn, address, f"web:{user.email}", now)
            message = f"Erased {len(ids):,} contacts; their addresses stay blocked."
        else:
            raise InputError("choose what to do with the selected contacts")
    flash(request, message)
    return redirect("/contacts" if action == "erase" else back)
