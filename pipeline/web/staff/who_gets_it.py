""" "Who gets it?" on a campaign's page: for one client, whether the campaign reaches them and,
if not, why (unsubscribed, a block on the address, the weekly limit, no segment); before it
starts, what it would do; after, what it did."""

from __future__ import annotations

from sqlalchemy import Engine

from pipeline.campaigns.previews import contact_variant
from pipeline.config import Settings
from pipeline.errors import NotFoundError
from pipeline.models import CampaignLifecycle, Plan, Segment
from pipeline.store import utcnow
from pipeline.store.contacts import get_contact, why_not_mailable
from pipeline.store.sends import send_of_contact


def who_gets_it(
    engine: Engine,
    settings: Settings,
    campaign: CampaignLifecycle,
    plan: Plan | None,
    segments: list[Segment],
    address: str,
) -> str:
    with engine.connect() as conn:
        try:
            contact = get_contact(conn, address)
        except NotFoundError:
            return f"No contact has the address {address}."
        assert contact.id is not None
        name = f"{contact.first_name} {contact.last_name}".strip() or contact.email
        if campaign.started_at is not None:
            sent = send_of_contact(conn, campaign.id, contact.id)
            if sent is None:
                why = why_not_mailable(conn, contact.id, utcnow())
                because = why or "they were in no segment it was sent to"
                return f"{name} was skipped: {because}."
            status, reason = sent
            return f"{name}: {status}" + (f" ({reason})." if reason else ".")
        if plan is None:
            return f"{name}: the plan cannot be made yet, see above."
        outcome = contact_variant(conn, settings, plan, segments, contact.id)
    if outcome.startswith("gets no email: "):
        return f"{name} will be skipped: {outcome.removeprefix('gets no email: ')}."
    return f"{name} {outcome}."
