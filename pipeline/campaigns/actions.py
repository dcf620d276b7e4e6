"""A campaign's lifecycle: draft → approved → scheduled → sending → sent, with paused, cancelled,
missed and failed. Staff actions here; each is one conditional UPDATE in
pipeline.store.campaign_states.

Only approved campaigns are sent: the outbox's start_campaign starts only `approved` or
`scheduled` campaigns, and everything that schedules goes through approval first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pipeline.campaigns.loading import plan_by_slug
from pipeline.campaigns.review import review_campaign
from pipeline.config import Settings
from pipeline.errors import NotFoundError, StateError
from pipeline.models import (
    APPROVABLE,
    CANCELLABLE,
    PAUSABLE,
    SCHEDULABLE,
    CampaignLifecycle,
    Finding,
)
from pipeline.store import campaign_states as store
from pipeline.store import utcnow
from pipeline.timerules import (
    beyond_grace,
    describe_delay,
    format_local,
    next_occurrence,
    sending_allowed,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine


class ChecksFailed(StateError):
    """Approval refused: the campaign's checks found errors (`errors`, the review's findings)."""

    def __init__(self, slug: str, errors: tuple[Finding, ...]) -> None:
        self.errors = errors
        first = errors[0]
        where = "" if first.segment == "-" else f", for {first.segment}"
        super().__init__(
            f"cannot approve campaign {slug!r}: its checks found {len(errors)} error(s); "
            f"first{where}: {first.message} (`clinicmail campaign check {slug}` lists them)"
        )


@dataclass(frozen=True)
class ActionResult:
    """What a staff action did: the campaign as it now stands and a sentence for the person."""

    campaign: CampaignLifecycle
    message: str
    notes: tuple[str, ...] = ()


def get_lifecycle(engine: Engine, slug: str) -> CampaignLifecycle:
    with engine.connect() as conn:
        found = store.find_campaign(conn, slug)
    if found is None:
        raise NotFoundError(
            f"no campaign {slug!r}",
            command_hint=f"add campaigns/{slug}.yaml and run `clinicmail sync`",
        )
    return found


def _refuse(campaign: CampaignLifecycle, action: str, allowed: tuple[str, ...]) -> StateError:
    slug = campaign.slug
    words, command = {
        "draft": ("approve it first", f"`clinicmail campaign approve {slug}`"),
        "sending": ("it is sending; pausing it holds it", f"`clinicmail campaign pause {slug}`"),
        "sent": ("it has been sent", None),
        "cancelled": ("it was cancelled; copy it to a new campaign to send it again", None),
        "missed": ("give it a new time", f"`clinicmail campaign schedule {slug} --at`"),
        "failed": (campaign.state_reason or "it failed", None),
    }.get(campaign.state, (f"it can be {action}d only when {' or '.join(allowed)}", None))
    return StateError(
        f"cannot {action} campaign {slug!r}: it is {campaign.state}; {words}",
        command_hint=command,
    )


def approve_checked_campaign(
    engine: Engine, settings: Settings, slug: str, approved_by: str, now: datetime | None = None
) -> ActionResult:
    """The one approval rule staff go through, from the web, the API and the CLI alike: a draft
    is planned, rendered and checked first, and approved only when no check is an error (a
    campaign already approved is left as it is)."""
    campaign = get_lifecycle(engine, slug)
    if campaign.state in APPROVABLE:
        segments = settings.segments
        with engine.connect() as conn:
            plan = plan_by_slug(conn, settings, slug, segments)
        errors = review_campaign(settings, plan, segments).errors
        if errors:
            raise ChecksFailed(slug, tuple(errors))
    return approve_campaign(engine, slug, approved_by, now)


def approve_campaign(
    engine: Engine, slug: str, approved_by: str, now: datetime | None = None
) -> ActionResult:
    """draft → approved, recording who approved it and when; the state change alone, without
    the checks (approve_checked_campaign is what staff go through). Approving twice is not an
    error."""
    now = now or utcnow()
    with engine.begin() as conn:
        moved = store.transition(
            conn, slug, APPROVABLE, "approved", now,
            approved_by=approved_by, approved_at=now, state_reason=None,
        )  # fmt: skip
    campaign = get_lifecycle(engine, slug)
    if moved:
        return ActionResult(campaign, f"approved {slug} (by {approved_by})")
    if campaign.approved_at is not None and campaign.state not in ("draft",):
        return ActionResult(
            campaign, f"{slug} is already {campaign.state} (approved by {campaign.approved_by})"
        )
    raise _refuse(campaign, "approve", APPROVABLE)


def schedule_campaign(
    engine: Engine,
    settings: Settings,
    slug: str,
    at: datetime | None = None,
    now: datetime | None = None,
) -> ActionResult:
    """approved | scheduled | missed → scheduled, at `at` (UTC) or the time in its file (a
    recurring campaign: its next occurrence). The time must be in the future."""
    now = now or utcnow()
    campaign = get_lifecycle(engine, slug)
    zone = settings.clinic.zone
    if campaign.state not in SCHEDULABLE:
        raise _refuse(campaign, "schedule", SCHEDULABLE)
    when = at or intended_time(campaign, zone, now)
    if when is None:
        raise StateError(
            f"campaign {slug!r} has no send time in its file: give it one",
            command_hint=f'`clinicmail campaign schedule {slug} --at "YYYY-MM-DD HH:MM"`',
        )
    if when <= now:
        raise StateError(
            f"cannot schedule campaign {slug!r} for {format_local(when, zone)}: that is in the "
            "past; give a later time",
            command_hint="`--at` takes the new time",
        )
    with engine.begin() as conn:
        moved = store.transition(
            conn, slug, SCHEDULABLE, "scheduled", now,
            scheduled_for=when, state_reason=None, resume_at=None,
        )  # fmt: skip
    campaign = get_lifecycle(engine, slug)
    if not moved:
        raise _refuse(campaign, "schedule", SCHEDULABLE)
    notes = []
    held = sending_allowed(when, settings)
    if held is not True:
        notes.append(
            f"{format_local(when, zone)} falls in quiet hours or on a closure date: it will "
            f"start then and send from {format_local(held, zone)}"
        )
    return ActionResult(campaign, f"scheduled {slug} for {format_local(when, zone)}", tuple(notes))


def intended_time(campaign: CampaignLifecycle, zone: ZoneInfo, now: datetime) -> datetime | None:
    """When the campaign's file says it should go: its send_at, or the next cron occurrence."""
    if campaign.cron:
        return next_occurrence(campaign.cron, zone, now)
    return campaign.send_at


def pause_campaign(
    engine: Engine, slug: str, paused_by: str, now: datetime | None = None
) -> ActionResult:
    """scheduled | sending → paused until a person resumes it (quiet-hours holds become manual)."""
    now = now or utcnow()
    reason = f"paused by {paused_by} at {now:%Y-%m-%d %H:%M} UTC"
    with engine.begin() as conn:
        moved = store.transition(
            conn, slug, PAUSABLE, "paused", now, state_reason=reason, resume_at=None
        )
    campaign = get_lifecycle(engine, slug)
    if not moved:
        raise _refuse(campaign, "pause", PAUSABLE)
    return ActionResult(campaign, f"paused {slug}")


def resume_campaign(
    engine: Engine, settings: Settings, slug: str, now: datetime | None = None
) -> ActionResult:
    """paused → sending (when it had started) or scheduled (when it had not). A campaign whose
    time went by while paused, beyond the grace window, needs a new time instead."""
    now = now or utcnow()
    campaign = get_lifecycle(engine, slug)
    zone = settings.clinic.zone
    if campaign.state != "paused":
        raise _refuse(campaign, "resume", ("paused",))
    values: dict[str, Any] = {"state_reason": None, "resume_at": None}
    if campaign.started_at is not None:
        target = "sending"
    else:
        target = "scheduled"
        due = campaign.scheduled_for
        if campaign.cron and (due is None or due <= now):
            values["scheduled_for"] = next_occurrence(campaign.cron, zone, now)
        elif due is None:
            raise StateError(
                f"campaign {slug!r} has no send time: give it one",
                command_hint=f'`clinicmail campaign schedule {slug} --at "YYYY-MM-DD HH:MM"`',
            )
        elif beyond_grace(due, now, settings.sending.grace_minutes):
            raise StateError(
                f"cannot resume campaign {slug!r}: its time {format_local(due, zone)} passed "
                f"{describe_delay(now - due)} ago, beyond the "
                f"{settings.sending.grace_minutes}-minute grace window; give it a new time",
                command_hint=f'`clinicmail campaign schedule {slug} --at "YYYY-MM-DD HH:MM"`',
            )
    with engine.begin() as conn:
        moved = store.transition(conn, slug, ("paused",), target, now, **values)
    campaign = get_lifecycle(engine, slug)
    if not moved:
        raise _refuse(campaign, "resume", ("paused",))
    return ActionResult(campaign, f"resumed {slug}: {target}")


def cancel_campaign(
    engine: Engine, slug: str, cancelled_by: str, now: datetime | None = None
) -> ActionResult:
    """Any state with work ahead → cancelled; emails still queued are skipped, never sent."""
    now = now or utcnow()
    reason = f"cancelled by {cancelled_by} at {now:%Y-%m-%d %H:%M} UTC"
    with engine.begin() as conn:
        moved = store.transition(
            conn, slug, CANCELLABLE, "cancelled", now, state_reason=reason, resume_at=None
        )
        skipped = 0
        if moved:
            found = store.find_campaign(conn, slug)
            assert found is not None
            skipped = store.skip_queued_sends(conn, found.id, "campaign cancelled", now)
    campaign = get_lifecycle(engine, slug)
    if not moved:
        raise _refuse(campaign, "cancel", CANCELLABLE)
    tail = f"; {skipped} queued email(s) will not be sent" if skipped else ""
    return ActionResult(campaign, f"cancelled {slug}{tail}")


def mark_missed(
    engine: Engine, settings: Settings, campaign: CampaignLifecycle, now: datetime
) -> bool:
    """scheduled → missed, with a reason staff can act on; never sent late in silence."""
    assert campaign.scheduled_for is not None
    zone = settings.clinic.zone
    reason = (
        f"missed: due {format_local(campaign.scheduled_for, zone)}, but no worker started it "
        f"until {describe_delay(now - campaign.scheduled_for)} later, beyond the "
        f"{settings.sending.grace_minutes}-minute grace window, so it was not sent late. Give it a"
        " new time to send it."
    )
    with engine.begin() as conn:
        return store.transition(
            conn, campaign.slug, ("scheduled",), "missed", now,
            expect={"scheduled_for": campaign.scheduled_for}, state_reason=reason,
        )  # fmt: skip


def fail_campaign(engine: Engine, slug: str, reason: str, now: datetime) -> bool:
    with engine.begin() as conn:
        return store.transition(
            conn, slug, ("approved", "scheduled", "sending"), "failed", now, state_reason=reason
        )


def hold_for_quiet_hours(engine: Engine, settings: Settings, now: datetime) -> list[str]:
    """Pause running campaigns while sending is not allowed; resume them when it is again."""
    allowed = sending_allowed(now, settings)
    with engine.begin() as conn:
        if allowed is True:
            return store.resume_after_quiet_hours(conn, now)
        reason = (
            "held by quiet hours or a closure date until "
            f"{format_local(allowed, settings.clinic.zone)}; it resumes by itself"
        )
        return store.pause_for_quiet_hours(conn, allowed, reason, now)
