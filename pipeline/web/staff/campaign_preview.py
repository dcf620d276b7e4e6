"""What the campaign pages and the API do beyond the lifecycle: make a campaign from an article
in the browser (origin "web"), build its preview (plan, rendered variants, check results), and
send a test email of one variant to one address."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time

from sqlalchemy import Engine

from pipeline.campaigns import load_plan, spec_document, spec_from_document
from pipeline.campaigns.review import Review, review_campaign
from pipeline.campaigns.sync import spec_hash
from pipeline.checks import preview_recipient
from pipeline.config import Settings
from pipeline.contacts.normalise import InvalidValue, normalise_email
from pipeline.delivery.backends import open_backend
from pipeline.errors import DeliveryError, InputError, NotFoundError
from pipeline.models import (
    CampaignSpec,
    Finding,
    Plan,
    Recipient,
    RenderedVariant,
    Segment,
    Utm,
)
from pipeline.render.message import personalise, recipient_values
from pipeline.store import campaign_states as lifecycle_store
from pipeline.store import utcnow
from pipeline.store.articles import get_article
from pipeline.timerules import local_to_utc
from pipeline.web.staff.preview_images import through_the_app

WEB_TEMPLATE = "single"
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class CampaignPreview:
    """Everything the campaign page shows before sending: the campaign's spec and its review
    (the plan with its evidence, each variant rendered once, the check findings; errors block
    sending)."""

    spec: CampaignSpec
    review: Review

    @property
    def plan(self) -> Plan:
        return self.review.plan

    @property
    def segments(self) -> Mapping[str, Segment]:
        return self.review.segments

    @property
    def rendered(self) -> Mapping[str, RenderedVariant]:
        return self.review.rendered

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.review.findings

    @property
    def blocking(self) -> list[Finding]:
        return self.review.errors


def campaign_spec(engine: Engine, slug: str) -> CampaignSpec:
    with engine.connect() as conn:
        document = lifecycle_store.campaign_spec_document(conn, slug)
    if document is None:
        raise NotFoundError(f"no campaign {slug!r}")
    return spec_from_document(document)


def build_preview(
    engine: Engine, settings: Settings, slug: str, *, only_segment: str | None = None
) -> CampaignPreview:
    """The plan, every variant rendered and checked; with `only_segment`, just that variant
    rendered and nothing checked (what one preview frame needs)."""
    spec = campaign_spec(engine, slug)
    segments = settings.segments
    with engine.connect() as conn:
        plan = load_plan(conn, settings, spec, segments)
    return CampaignPreview(spec, review_campaign(settings, plan, segments, only=only_segment))


def preview_html(settings: Settings, rendered: RenderedVariant) -> str:
    """The variant as a sample recipient sees it (tokens filled with the preview recipient),
    its outside images loaded through the app so an unreachable one never holds it up."""
    return through_the_app(
        personalise(rendered, preview_recipient(settings), settings).html, settings
    )


def send_test_email(settings: Settings, rendered: RenderedVariant, address: str) -> None:
    """One copy of the variant to `address` through the configured backend, its subject marked
    as a test. It is no campaign send: nothing is recorded in the outbox."""
    try:
        address = normalise_email(address)
    except InvalidValue as error:
        raise InputError(str(error)) from None
    values = recipient_values(settings, 0, address, "", None)
    test = replace(rendered, subject=f"[Test] {rendered.subject}")
    backend = open_backend(settings)
    try:
        results = backend.send_batch(test, [Recipient(0, address, values)])
    finally:
        backend.close()
    outcome = results[0] if results else None
    if outcome is None or outcome.outcome != "sent":
        reason = outcome.reason if outcome and outcome.reason else "no answer from the backend"
        raise DeliveryError(
            f"the test email to {address} was not accepted ({settings.delivery.backend} "
            f"backend): {reason}"
        )


def slug_for(article_slug: str, today: date) -> str:
    base = _NOT_SLUG.sub("-", article_slug.lower()).strip("-")[:150] or "campaign"
    return f"{base}-{today:%Y%m%d}"


def create_web_campaign(
    engine: Engine,
    settings: Settings,
    *,
    article_slug: str,
    name: str,
    segments: list[str] | None,
    created_by: str,
    now: datetime | None = None,
) -> str:
    """A draft campaign for one article, stored in the database with origin "web" (the web
    app's own campaigns; campaigns from files stay read-only there). Returns its slug."""
    now = now or utcnow()
    known = {segment.name for segment in settings.segments}
    chosen = [segment for segment in segments or [] if segment]
    unknown = sorted(set(chosen) - known)
    if unknown:
        raise InputError(f"unknown segment {unknown[0]!r}; choose from {', '.join(sorted(known))}")
    with engine.connect() as conn:
        article = get_article(conn, article_slug)
    title = " ".join(name.split()) or article.title
    base = slug_for(article.slug, now.astimezone(settings.clinic.zone).date())
    with engine.begin() as conn:
        for attempt in range(1, 100):
            slug = base if attempt == 1 else f"{base}-{attempt}"
            spec = CampaignSpec(
                slug=slug,
                name=title,
                template=WEB_TEMPLATE,
                article=article.slug,
                segments=tuple(chosen) if chosen and set(chosen) != known else "all",
                utm=Utm(campaign=slug),
                source_path=None,
            )
            document = spec_document(spec)
            document["created_by"] = created_by
            inserted = lifecycle_store.insert_campaign(
                conn, slug=slug, name=title, origin="web", spec=document,
                spec_hash=spec_hash(document), state="draft", now=now,
            )  # fmt: skip
            if inserted is not None:
                return slug
    raise InputError(f"too many campaigns for {article.slug} today; give one a different article")


def local_datetime(settings: Settings, day: str, clock: str) -> datetime:
    """A date and time typed in the clinic's timezone, as an aware UTC datetime; a time that a
    daylight-saving change skips or repeats is refused, as everywhere else."""
    try:
        moment = datetime.combine(date.fromisoformat(day), time.fromisoformat(clock))
    except ValueError:
        raise InputError(
            f"{day} {clock} is not a date and time; use YYYY-MM-DD and HH:MM"
        ) from None
    return local_to_utc(moment, settings.clinic.zone, where="send time")
