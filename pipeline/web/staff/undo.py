"""Undo, for a few seconds, of a campaign cancel made before any email of it was claimed: the
offer lives in the staff member's session, the page shows an Undo button until it runs out,
and the store checks again that nothing was sent before taking the cancel back."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import Request

from pipeline.store import utcnow

UNDO_WINDOW = timedelta(seconds=15)


def offer_undo(request: Request, slug: str, back_to: str, cancelled_at: datetime) -> None:
    request.session["undo"] = {
        "slug": slug,
        "back_to": back_to,
        "at": cancelled_at.isoformat(),
        "until": (cancelled_at + UNDO_WINDOW).isoformat(),
    }


def undo_offer(request: Request, slug: str) -> dict | None:
    """The undo still on offer for this campaign (its deadline for the page's script)."""
    offer = request.session.get("undo")
    if not offer or offer.get("slug") != slug:
        return None
    if datetime.fromisoformat(offer["until"]) <= utcnow():
        request.session.pop("undo", None)
        return None
    return offer


def take_undo(request: Request, slug: str) -> tuple[str, datetime] | None:
    """The state to go back to and when the cancel happened, once; None when too late."""
    offer = undo_offer(request, slug)
    request.session.pop("undo", None)
    if offer is None:
        return None
    return offer["back_to"], datetime.fromisoformat(offer["at"])
