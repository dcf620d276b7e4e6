"""Loading what a campaign's plan and review need, at the edge: its spec (file or database),
its articles and each variant's audience from the store. The plan and the review themselves
are pure (pipeline.campaigns.plan, pipeline.campaigns.review)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import Connection

from pipeline.campaigns.document import spec_from_document
from pipeline.campaigns.plan import assignment_segments, plan_campaign, with_audience
from pipeline.campaigns.spec import load_campaign_spec
from pipeline.config import Settings
from pipeline.errors import NotFoundError, SpecError
from pipeline.models import GENERAL_SEGMENT, Article, CampaignSpec, Plan, Segment
from pipeline.store import utcnow
from pipeline.store.articles import articles_published_since, get_article
from pipeline.store.campaign_states import campaign_spec_document, last_started_digest
from pipeline.store.campaigns import audience_by_variant, campaign_id_by_slug


def resolve_campaign_spec(conn: Connection, settings: Settings, slug: str) -> CampaignSpec:
    """A campaign by slug: its file in campaigns/ (the source of truth for file campaigns), else
    the spec its database row keeps (campaigns made in the web app, digest occurrences)."""
    try:
        return load_campaign_spec(settings.workspace, slug, settings.clinic.zone, settings.segments)
    except NotFoundError:
        document = campaign_spec_document(conn, slug)
        if document is None:
            raise
        return spec_from_document(document)


def plan_by_slug(
    conn: Connection, settings: Settings, slug: str, segments: Sequence[Segment]
) -> Plan:
    """Campaign `slug`'s spec resolved (file or database) and its plan loaded."""
    return load_plan(conn, settings, resolve_campaign_spec(conn, settings, slug), segments)


def load_plan(
    conn: Connection,
    settings: Settings,
    spec: CampaignSpec,
    segments: Sequence[Segment],
    *,
    now: datetime | None = None,
) -> Plan:
    """The campaign's plan with each variant's audience: the articles loaded, the plan made
    (pure), then its mailable contacts counted with the outbox's own assignment."""
    now = now or utcnow()
    articles, no_articles = load_articles(conn, settings, spec)
    plan = plan_campaign(settings, spec, articles, segments, no_articles=no_articles)
    if not plan.variants:
        return plan
    ordered, general, excluded = assignment_segments(plan, segments)
    today = now.astimezone(settings.clinic.zone).date()
    audience = audience_by_variant(
        conn,
        ordered,
        general is not None,
        general or GENERAL_SEGMENT,
        now,
        today,
        excluded,
    )
    return with_audience(plan, audience)


def load_articles(
    conn: Connection, settings: Settings, spec: CampaignSpec
) -> tuple[list[Article], str]:
    """The campaign's articles from the store (its article, its list, or a digest's articles
    published since its previous occurrence), and the reason to give when there are none."""
    try:
        if spec.articles:
            return [get_article(conn, slug) for slug in spec.articles], ""
        if spec.article:
            return [get_article(conn, spec.article)], ""
    except NotFoundError:
        missing = spec.article or ", ".join(spec.articles)
        raise SpecError(
            f"article: {missing!r} is not among the synced articles; add it to content/ and "
            "sync the content",
            path=spec.source_path,
            command_hint="`clinicmail content sync`",
        ) from None
    since: date | None = None
    already: set[str] = set()
    campaign_id = campaign_id_by_slug(conn, spec.slug)
    previous = last_started_digest(conn, campaign_id) if campaign_id is not None else None
    if previous is not None:
        occurred, carried = previous
        since = occurred.astimezone(settings.clinic.zone).date()
        already = set(carried)
    limit = spec.digest_latest or 1
    found = [
        article
        for article in articles_published_since(conn, since, limit + len(already))
        if article.slug not in already
    ][:limit]
    reason = (
        f"no article published since the previous digest ({since:%Y-%m-%d})"
        if since
        else "no published article yet"
    )
    return found, reason
