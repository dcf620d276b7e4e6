"""The staff pages: every route here requires a signed-in user (and a CSRF token on posts),
except the sign-in form itself. `staff_router()` gathers them for create_app."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from pipeline.web.auth import staff_user, verify_csrf
from pipeline.web.staff import (
    account,
    article_editor,
    campaign_calendar,
    campaign_editor,
    campaign_schedule,
    campaigns,
    contact_page,
    contacts,
    contacts_bulk,
    content,
    dashboard,
    messages,
    preview_images,
    report,
    users,
)


def staff_router() -> APIRouter:
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
        campaign_calendar,
        campaign_editor,
        campaign_schedule,
        campaigns,
        contact_page,
        contacts,
        contacts_bulk,
        content,
        dashboard,
        messages,
        report,
        users,
    ):
        guarded.include_router(module.router)
    router.include_router(guarded)
    return router
