"""When a campaign can go out, in staff words: the next moment the sending rules allow (quiet
hours, closure dates) and an explanation of a chosen time ("goes out 08:00 tomorrow, after
quiet hours"), given before anything is scheduled."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from pipeline.config import Settings
from pipeline.timerules import sending_allowed

# "Send now" starts this soon: the worker looks for due campaigns every few seconds.
SEND_NOW_DELAY = timedelta(seconds=5)


def readable_moment(moment: datetime, now: datetime, zone: ZoneInfo) -> str:
    """`moment` as staff say it: "14:30 today", "08:00 tomorrow", "08:00 on Friday 5 December"."""
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    clock = f"{local:%H:%M}"
    if local.date() == today:
        return f"{clock} today"
    if local.date() == today + timedelta(days=1):
        return f"{clock} tomorrow"
    if local.year == today.year:
        return f"{clock} on {local:%A} {local.day} {local:%B}"
    return f"{clock} on {local:%A} {local.day} {local:%B %Y}"


def _soonest(settings: Settings, now: datetime) -> datetime:
    """`[sending] proposal_lead_minutes` after `now` (time for staff to read the page and press
    the button), rounded up to a five-minute mark, or to the minute for a lead under five."""
    lead = settings.sending.proposal_lead_minutes
    start = now.astimezone(UTC) + timedelta(minutes=lead)
    if start.second or start.microsecond:
        start = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    step = 5 if lead >= 5 else 1
    return start + timedelta(minutes=-start.minute % step)


def next_allowed_slot(settings: Settings, now: datetime) -> datetime:
    """The earliest moment, a little after `now` (see _soonest), that the sending rules allow
    (UTC)."""
    start = _soonest(settings, now)
    allowed = sending_allowed(start, settings)
    return start if allowed is True else allowed


def explain_proposal(settings: Settings, now: datetime, at_weekly_cap: int = 0) -> SlotExplanation:
    """The proposed slot, explained; when the rules moved it later, the sentence says why."""
    slot = next_allowed_slot(settings, now)
    explanation = explain_slot(settings, slot, now, at_weekly_cap)
    soonest = _soonest(settings, now)
    if slot == soonest:
        return explanation
    closed = soonest.astimezone(settings.clinic.zone).date() in settings.sending.closure_dates
    why = "the clinic is closed until then" if closed else "the first time after quiet hours"
    if not closed and settings.sending.quiet_hours:
        why += f" ({settings.sending.quiet_hours.replace('-', '–')})"
    first, rest = explanation.sentence.split(".", 1)
    return replace(explanation, sentence=f"{first}, {why}.{rest}")


@dataclass(frozen=True)
class SlotExplanation:
    """What happens if a campaign is scheduled for `chosen`: when it really starts sending
    (`goes_out`), in one sentence, and whether the time can be chosen at all."""

    chosen: datetime
    goes_out: datetime
    sentence: str
    possible: bool


def explain_slot(
    settings: Settings, chosen: datetime, now: datetime, at_weekly_cap: int = 0
) -> SlotExplanation:
    zone = settings.clinic.zone
    if chosen <= now:
        proposal = next_allowed_slot(settings, now)
        return SlotExplanation(
            chosen,
            proposal,
            f"That time has passed: choose a later one. The next possible time is "
            f"{readable_moment(proposal, now, zone)}.",
            possible=False,
        )
    allowed = sending_allowed(chosen, settings)
    goes_out = chosen if allowed is True else allowed
    sentence = f"Goes out {readable_moment(goes_out, now, zone)}"
    if allowed is not True:
        closed = chosen.astimezone(zone).date() in settings.sending.closure_dates
        rule = "the clinic is closed that day" if closed else "after quiet hours"
        if not closed and settings.sending.quiet_hours:
            rule += f" ({settings.sending.quiet_hours.replace('-', '–')})"
        sentence += f", {rule}"
    sentence += "."
    if at_weekly_cap:
        cap = settings.sending.weekly_cap
        clients = "client has" if at_weekly_cap == 1 else "clients have"
        sentence += (
            f" {at_weekly_cap:,} {clients} already had {cap} email{'s' if cap != 1 else ''} "
            "from us in the past 7 days and will be skipped (the weekly limit)."
        )
    return SlotExplanation(chosen, goes_out, sentence, possible=True)
