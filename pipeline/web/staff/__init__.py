"""The staff pages: every route here requires a signed-in user (and a CSRF token on posts),
except the sign-in form itself. `staff_router()` gathers them for create_app."""

from __future__ import annotations

from importlib.metadata import entry_points

from fastapi import APIRouter, Depends

from pipeline.config import Settings
from pipeline.web.auth import staff_user, verify_csrf
from pipeline.web.staff import (
    account,
    article_editor,
    bookings,
    campaign_calendar,
    campaign_editor,
    campaign_schedule,
    campaigns,
    comparison,
    contact_page,
    contacts,
    contacts_bulk,
    content,
    dashboard,
    preview_images,
    report,
    users,
)

STAFF_PAGES_ENTRY_POINTS = "clinicmail.staff_pages"


def installed_pages(settings: Settings) -> list[APIRouter]:
    """Staff pages another package provides for this workspace's delivery backend, under the
    entry point group clinicmail.staff_pages: with the local backend, the local server's
    "Received mail" (pipeline.devserver.inbox), which production code never imports."""
    found = entry_points(group=STAFF_PAGES_ENTRY_POINTS, name=settings.delivery.backend)
    return [entry.load() for entry in found]


def staff_router(settings: Settings) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    router.include_router(account.public_router)
    # Preview frames are sandboxed (an opaque origin, sent no session cookie), so their images
    # come from an unguarded route; only signed addresses that previews made are fetched.
    router.include_router(preview_images.router)
    # Order matters: sign-in is checked before the form token, so an anonymous post is sent to
    # the sign-in page rather than told its form expired.
    guarded = APIRouter(dependencies=[Depends(staff_user), Depends(verify_csrf)])
    for module in (
        account,
        article_editor,
        bookings,
        campaign_calendar,
        campaign_editor,
        campaign_schedule,
        campaigns,
        comparison,
        contact_page,
        contacts,
        contacts_bulk,
        content,
        dashboard,
        report,
        users,
    ):
        guarded.include_router(module.router)
    for pages in installed_pages(settings):
        guarded.include_router(pages)
    router.include_router(guarded)
    return router
