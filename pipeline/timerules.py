"""Time rules for sending, all pure: local clinic time to UTC, cron occurrences, the grace
window, quiet hours and closure dates. Every function takes `now` so tests can travel in time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from pipeline.config import SendingSection, Settings
from pipeline.errors import InputError

LOCAL_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def parse_local_time(text: str, zone: ZoneInfo, *, where: str = "--at") -> datetime:
    """`YYYY-MM-DD HH:MM[:SS]` in the clinic's zone, as an aware UTC datetime.

    A time that a daylight-saving change skips or repeats is refused, naming the time."""
    for layout in LOCAL_TIME_FORMATS:
        try:
            naive = datetime.strptime(text.strip(), layout)
        except ValueError:
            continue
        return local_to_utc(naive, zone, where=where)
    raise InputError(f'{where}: {text!r} is not a time like "2026-12-01 09:30" (local time)')


def local_to_utc(naive: datetime, zone: ZoneInfo, *, where: str = "time") -> datetime:
    """A wall-clock time in `zone` as UTC; nonexistent and ambiguous times are errors."""
    wall = naive.replace(tzinfo=None)
    earlier = wall.replace(tzinfo=zone, fold=0)
    later = wall.replace(tzinfo=zone, fold=1)
    shown = f"{wall:%Y-%m-%d %H:%M:%S} {zone.key}"
    if earlier.utcoffset() != later.utcoffset():
        # fold only changes the offset at a transition: either the hour repeats or is skipped.
        round_trip = earlier.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if round_trip != wall:
            raise InputError(
                f"{where}: {shown} does not exist (the clocks go forward past it); "
                "choose a time outside the skipped hour"
            )
        raise InputError(
            f"{where}: {shown} is ambiguous (the clocks go back and it happens twice); "
            "choose a time outside the repeated hour"
        )
    return earlier.astimezone(UTC)


def cron_trigger(expression: str, zone: ZoneInfo, *, where: str = "cron") -> CronTrigger:
    """An APScheduler cron trigger in the clinic's zone, so 09:00 stays 09:00 across DST."""
    try:
        return CronTrigger.from_crontab(expression, timezone=zone)
    except ValueError as error:
        raise InputError(
            f'{where}: {expression!r} is not a cron expression like "0 9 * * mon" ({error})'
        ) from None


def next_occurrence(expression: str, zone: ZoneInfo, after: datetime) -> datetime:
    """The first occurrence of the cron expression strictly after `after`, in UTC."""
    trigger = cron_trigger(expression, zone)
    fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
    if fire is None:
        raise InputError(f"cron {expression!r} never fires again")
    return fire.astimezone(UTC)


def beyond_grace(scheduled_for: datetime, now: datetime, grace_minutes: int) -> bool:
    """True when a trigger is late by more than the grace window: it must not be sent."""
    return now - scheduled_for > timedelta(minutes=grace_minutes)


def describe_delay(delay: timedelta) -> str:
    minutes = int(delay.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def format_local(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M} {zone.key}"


def sending_allowed(now: datetime, settings: Settings) -> Literal[True] | datetime:
    """True when an email may go out at `now`; otherwise the (UTC) moment sending may resume.

    Quiet hours and closure dates are in the clinic's local time and apply to every campaign."""
    zone = settings.clinic.zone
    local = now.astimezone(zone)
    resume = _next_open_moment(local, settings.sending, zone)
    return True if resume == local else resume.astimezone(UTC)


def _next_open_moment(local: datetime, rules: SendingSection, zone: ZoneInfo) -> datetime:
    closures = set(rules.closure_dates)
    window = rules.quiet_window
    # Each step moves strictly forward to a day boundary or a quiet-hours end, and closures are
    # finite, so this settles within a few hundred steps even for a year of closures.
    for _ in range(2 * len(closures) + 4):
        if local.date() in closures:
            local = _at(local.date() + timedelta(days=1), time(0), zone)
            continue
        quiet_end = _quiet_end(local, window, zone) if window else None
        if quiet_end is None:
            return local
        local = quiet_end
    return local


def _quiet_end(local: datetime, window: tuple[time, time], zone: ZoneInfo) -> datetime | None:
    """When the quiet hours that `local` falls in end, or None when it is outside them."""
    start, end = window
    clock = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:
        return _at(local.date(), end, zone) if start <= clock < end else None
    if clock >= start:
        return _at(local.date() + timedelta(days=1), end, zone)
    if clock < end:
        return _at(local.date(), end, zone)
    return None


def _at(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """`day` at `clock` in `zone`; a wall time skipped by DST moves to the real instant after."""
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC).astimezone(zone)
