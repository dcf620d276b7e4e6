"""Starting a campaign: the one idempotent transition to `sending`. Its variants are rendered and
checked, stored once, and its audience materialised into the outbox in a single transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine

from pipeline.campaigns import assignment_segments, load_plan, spec_from_document
from pipeline.campaigns.review import review_campaign
from pipeline.config import Settings
from pipeline.errors import NotFoundError, StateError
from pipeline.models import ALREADY_STARTED, STARTABLE, Finding
from pipeline.store import utcnow
from pipeline.store.outbox import (
    get_campaign_row,
    lock_campaign,
    mark_campaign_sending,
    outbox_counts_by_variant,
    store_variants,
)
from pipeline.store.sends import count_sends, materialise_sends


@dataclass(frozen=True)
class StartReport:
    """What starting did. `started` is False when the campaign was already sending or sent
    (nothing was changed); `variants` counts its outbox rows by segment and status."""

    campaign_id: int
    slug: str
    started: bool
    state: str
    audience: int
    variants: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    warnings: tuple[Finding, ...] = ()


def start_campaign(
    engine: Engine, settings: Settings, slug: str, *, now: datetime | None = None
) -> StartReport:
    """Start campaign `slug`: render and check its variants (any error blocks sending), store
    them, snapshot its audience into `sends` and set it `sending` — all or nothing.

    Idempotent: a campaign already sending or sent is left as it is (`started` False), so a
    duplicate trigger or a second `campaign send --now` sends nothing twice. Only `approved` or
    `scheduled` campaigns start; any other state is a StateError saying what to do."""
    now = now or utcnow()
    with engine.connect() as conn:
        row = get_campaign_row(conn, slug)
        if row is None:
            raise NotFoundError(
                f"no campaign {slug!r} in the database: load campaigns/*.yaml, then approve it",
                command_hint="`clinicmail sync` loads them",
            )
        if row.state in ALREADY_STARTED:
            return _already_started(conn, row.id, slug, row.state)
        _refuse_unless_startable(slug, row.state)
        segments = settings.segments
        plan = load_plan(conn, settings, spec_from_document(row.spec), segments, now=now)
    if not plan.variants:
        reasons = "; ".join(f"{s.segment}: {s.reason}" for s in plan.skipped) or "no segment"
        raise StateError(f"campaign {slug!r} has nothing to render ({reasons})")
    review = review_campaign(settings, plan, segments)
    errors = review.errors
    if errors:
        listed = "; ".join(f"{e.segment}: {e.message}" for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise StateError(
            f"campaign {slug!r} was not started: its checks found {len(errors)} error(s): "
            f"{listed}{more}. Fix them, then see `clinicmail campaign check {slug}`"
        )
    ordered, general, excluded = assignment_segments(plan, segments)
    today = now.astimezone(settings.clinic.zone).date()
    with engine.begin() as conn:
        locked = lock_campaign(conn, slug)
        assert locked is not None
        if locked.state in ALREADY_STARTED:
            return _already_started(conn, locked.id, slug, locked.state)
        _refuse_unless_startable(slug, locked.state)
        # A campaign whose outbox exists (a start that a later state change interrupted) keeps
        # it: the audience is materialised once, ever.
        if count_sends(conn, locked.id) == 0:
            ids = store_variants(
                conn,
                locked.id,
                list(review.rendered.values()),
                {v.segment: v for v in plan.variants},
                now,
            )
            materialise_sends(
                conn,
                locked.id,
                [(segment, ids[segment.name]) for segment in ordered],
                ids[general] if general is not None else None,
                excluded,
                now,
                today,
                settings.sending.weekly_cap,
            )
        mark_campaign_sending(conn, locked.id, now)
        variants = outbox_counts_by_variant(conn, locked.id)
    return StartReport(
        campaign_id=locked.id,
        slug=slug,
        started=True,
        state="sending",
        audience=sum(sum(counts.values()) for counts in variants.values()),
        variants=variants,
        warnings=tuple(review.warnings),
    )


def _already_started(conn: Connection, campaign_id: int, slug: str, state: str) -> StartReport:
    variants = outbox_counts_by_variant(conn, campaign_id)
    return StartReport(
        campaign_id=campaign_id,
        slug=slug,
        started=False,
        state=state,
        audience=sum(sum(counts.values()) for counts in variants.values()),
        variants=variants,
    )


def _refuse_unless_startable(slug: str, state: str) -> None:
    if state in STARTABLE:
        return
    words, command = {
        "draft": ("approve it first", f"`clinicmail campaign approve {slug}`"),
        "paused": ("resume it", f"`clinicmail campaign resume {slug}`"),
        "cancelled": ("it was cancelled; copy it to a new campaign to send it again", None),
        "missed": ("give it a new time", f"`clinicmail campaign schedule {slug} --at`"),
    }.get(state, ("only approved or scheduled campaigns can be started", None))
    raise StateError(f"cannot send campaign {slug!r}: it is {state}; {words}", command_hint=command)


@dataclass(frozen=True)
class OutboxSummary:
    """A campaign's outbox as it stands: its state and its rows by segment and status."""

    campaign_id: int
    slug: str
    state: str
    by_segment: Mapping[str, Mapping[str, int]]

    @property
    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for statuses in self.by_segment.values():
            for status, count in statuses.items():
                totals[status] = totals.get(status, 0) + count
        return totals

    @property
    def open(self) -> int:
        return sum(self.counts.get(status, 0) for status in ("queued", "sending", "unknown"))


def outbox_summary(engine: Engine, slug: str) -> OutboxSummary:
    with engine.connect() as conn:
        row = get_campaign_row(conn, slug)
        if row is None:
            raise NotFoundError(f"no campaign {slug!r} in the database")
        return OutboxSummary(row.id, slug, row.state, outbox_counts_by_variant(conn, row.id))
