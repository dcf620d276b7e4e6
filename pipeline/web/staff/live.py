"""How long and how often a campaign's page follows its figures without a reload: from the
moment it is scheduled, through sending, until the event stream has settled (48 hours after
it finished, when late opens and clicks have mostly arrived)."""

from __future__ import annotations

from datetime import datetime, timedelta

from pipeline.models import CampaignLifecycle

# Opens and clicks keep arriving for a day or two after the last email went out.
FOLLOW_AFTER_SENDING = timedelta(hours=48)
# Just after sending, deliveries arrive in bursts; later, a few events an hour.
SETTLING = timedelta(hours=1)


def poll_interval_seconds(campaign: CampaignLifecycle, now: datetime) -> int | None:
    """Seconds until the page asks again, or None when the figures no longer change."""
    if campaign.state in ("sending",):
        return 3
    if campaign.state in ("scheduled", "approved", "paused"):
        due = campaign.scheduled_for or campaign.resume_at
        soon = due is not None and due - now < timedelta(minutes=15)
        return 3 if soon else 20
    if campaign.state == "sent" and campaign.finished_at is not None:
        since = now - campaign.finished_at
        if since < SETTLING:
            return 5
        if since < FOLLOW_AFTER_SENDING:
            return 30
    return None
