"""Campaign files into the lifecycle, idempotently (`clinicmail sync`, at worker start and when
files change): new files become drafts, a changed send time reschedules, a changed campaign
needs approving again, and a change after sending started is refused, saying why."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pipeline.campaigns import spec_document
from pipeline.campaigns.spec import CAMPAIGNS_DIR, campaign_files, load_campaign_specs
from pipeline.config import Settings
from pipeline.models import OPEN_STATES, CampaignLifecycle, CampaignSpec
from pipeline.segments import SEGMENTS_FILE
from pipeline.store import campaign_states as store
from pipeline.store import utcnow
from pipeline.timerules import format_local, next_occurrence

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

# The keys of a stored spec that say when, not what: changing only these reschedules.
TIME_KEYS = ("send_at", "cron")
# Keys that describe where the spec came from, not the campaign.
IGNORED_KEYS = ("source_path",)


@dataclass
class CampaignSyncReport:
    added: list[str] = field(default_factory=list)
    rescheduled: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unapproved: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {name: list(value) for name, value in self.__dict__.items()}


def campaign_files_fingerprint(settings: Settings) -> str:
    """Names, sizes and modification times of the campaign files and segments.yaml (the files
    are checked against the segments): changes when any of them does."""
    entries = []
    for path in (*campaign_files(settings.workspace), settings.workspace / SEGMENTS_FILE):
        if path.is_file():
            stat = path.stat()
            entries.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(entries).encode()).hexdigest()


def spec_hash(document: dict[str, Any]) -> str:
    kept = {key: value for key, value in document.items() if key not in IGNORED_KEYS}
    canonical = json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _what_part(document: dict[str, Any] | None) -> str:
    return spec_hash({k: v for k, v in (document or {}).items() if k not in TIME_KEYS})


def sync_campaigns(
    engine: Engine, settings: Settings, now: datetime | None = None
) -> CampaignSyncReport:
    """Bring the campaigns table in line with campaigns/*.yaml in one transaction. A file that
    does not validate stops the whole sync (nothing half-applied); a change that the campaign's
    state does not allow is refused and reported while the other files sync."""
    now = now or utcnow()
    specs = load_campaign_specs(settings.workspace, settings.clinic.zone, settings.segments)
    report = CampaignSyncReport()
    with engine.begin() as conn:
        known = {campaign.slug: campaign for campaign in store.all_campaigns(conn)}
        for spec in specs:
            document = spec_document(spec)
            current = known.get(spec.slug)
            if current is None:
                _add(conn, settings, spec, document, now)
                report.added.append(spec.slug)
            else:
                _update(conn, settings, spec, document, current, now, report)
        files = {spec.slug for spec in specs}
        removed = [c for c in known.values() if c.origin == "file" and c.slug not in files]
        for campaign in removed:
            reason = f"{CAMPAIGNS_DIR}/{campaign.slug}.yaml was removed"
            if store.transition(
                conn, campaign.slug, OPEN_STATES, "cancelled", now, state_reason=reason
            ):
                report.cancelled.append(campaign.slug)
    return report


def _intended(spec: CampaignSpec, settings: Settings, now: datetime) -> datetime | None:
    if spec.cron:
        return next_occurrence(spec.cron, settings.clinic.zone, now)
    return spec.send_at


def _add(
    conn: Connection,
    settings: Settings,
    spec: CampaignSpec,
    document: dict[str, Any],
    now: datetime,
) -> None:
    store.insert_campaign(
        conn, slug=spec.slug, name=spec.name, origin="file", spec=document,
        spec_hash=spec_hash(document), state="draft", now=now,
        scheduled_for=_intended(spec, settings, now),
    )  # fmt: skip


def _update(
    conn: Connection,
    settings: Settings,
    spec: CampaignSpec,
    document: dict[str, Any],
    current: CampaignLifecycle,
    now: datetime,
    report: CampaignSyncReport,
) -> None:
    new_hash = spec_hash(document)
    where = spec.source_path or f"{CAMPAIGNS_DIR}/{spec.slug}.yaml"
    if current.origin != "file":
        report.refused.append(
            f"{where}: the slug {spec.slug!r} belongs to a campaign made in the web app; "
            "rename the file"
        )
        return
    if new_hash == current.spec_hash:
        report.unchanged.append(spec.slug)
        return
    zone = settings.clinic.zone
    if current.started_at is not None:
        report.refused.append(
            f"{where}: changed after sending started ({format_local(current.started_at, zone)}, "
            f"now {current.state}); what was sent cannot change — copy the file to a new slug "
            "to send a revised campaign"
        )
        return
    stored = store.campaign_spec_document(conn, spec.slug)
    when = _intended(spec, settings, now)
    values: dict[str, Any] = {"scheduled_for": when}
    if _what_part(stored) != _what_part(document):
        if current.state in ("approved", "scheduled", "paused", "missed"):
            values.update(
                state="draft",
                approved_by=None,
                approved_at=None,
                resume_at=None,
                state_reason=f"{where} changed after approval: approve it again",
            )
            report.unapproved.append(spec.slug)
        else:
            report.updated.append(spec.slug)
    elif current.state == "scheduled":
        if when is None:
            values.update(state="approved", state_reason=f"{where} no longer gives a send time")
        else:
            values["state_reason"] = f"rescheduled for {format_local(when, zone)} ({where})"
        report.rescheduled.append(spec.slug)
    elif current.state == "missed" and when is not None and when > now:
        values.update(state="scheduled", state_reason=f"rescheduled after being missed ({where})")
        report.rescheduled.append(spec.slug)
    else:
        report.updated.append(spec.slug)
    if not store.update_spec(
        conn, current.id, expected_hash=current.spec_hash, name=spec.name, spec=document,
        spec_hash=new_hash, now=now, **values,
    ):  # fmt: skip
        report.refused.append(f"{where}: the campaign started while syncing; run sync again")
