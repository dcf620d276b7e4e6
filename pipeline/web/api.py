"""The JSON API under /api: campaigns (list, make from an article, lifecycle actions) and their
metrics, for scripts and other tools. Every route takes an API token (`clinicmail users token`)
as `Authorization: Bearer <token>`; the OpenAPI description is at /api/openapi.json."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.routing import iter_route_contexts
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from pipeline.bookings.figures import booking_figures, rates
from pipeline.campaigns.actions import (
    ActionResult,
    approve_campaign,
    cancel_campaign,
    get_lifecycle,
    pause_campaign,
    resume_campaign,
    schedule_campaign,
)
from pipeline.comparison import SORT_KEYS, comparison, health_flags
from pipeline.metrics import campaign_metrics, daily_series, local_today, overview
from pipeline.models import (
    BookingSums,
    CampaignLifecycle,
    MetricCounts,
    SegmentMetrics,
    StaffUser,
)
from pipeline.store import campaign_states as lifecycle_store
from pipeline.web.auth import api_user
from pipeline.web.staff.campaign_preview import build_preview, create_web_campaign

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The request body is not valid JSON"},
    401: {"description": "No API token, or one that is not valid"},
    404: {"description": "No such campaign or article"},
    409: {"description": "The campaign's state does not allow this"},
    422: {"description": "A value in the request cannot be used"},
}
router = APIRouter(prefix="/api", tags=["api"], dependencies=[Depends(api_user)], responses=_ERRORS)
ApiUser = Annotated[StaffUser, Depends(api_user)]
Slug = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]


class Campaign(BaseModel):
    slug: str
    name: str
    origin: str = Field(description='"file" (campaigns/*.yaml) or "web" (made in the web app)')
    state: str
    scheduled_for: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    started_at: datetime | None
    finished_at: datetime | None
    state_reason: str | None


class Counts(BaseModel):
    audience: int
    queued: int
    sent: int
    delivered: int
    bounced: int
    dropped: int
    opens: int
    machine_opens: int
    clicks: int
    booking_clicks: int
    unsubscribes: int
    complaints: int
    failed: int
    skipped: int
    unknown: int


class Figures(BaseModel):
    """Rates (fractions: 0.012 is 1.2%; null when nothing to divide by) and booking figures
    (null, with bookings_imported false, until a bookings file is imported: unknown, not 0)."""

    open_rate: float | None = Field(description="People's opens of delivered")
    click_rate: float | None = Field(description="Clicks of delivered")
    booking_click_rate: float | None = Field(description="Booking clicks of delivered")
    unsubscribe_rate: float | None = Field(description="Unsubscribes of delivered")
    complaint_rate: float | None = Field(description="Spam reports of delivered")
    bounce_rate: float | None = Field(description="Bounces of delivered + bounced")
    bookings_imported: bool
    bookings: int | None = Field(description="Kept appointments credited to these emails")
    cancelled: int | None
    no_shows: int | None
    new_clients: int | None = Field(description="No earlier appointment in the imported history")
    returning_clients: int | None
    revenue: float | None
    bookings_per_1000_delivered: float | None


class SegmentFigures(BaseModel):
    segment: str
    code: str
    counts: Counts
    figures: Figures


class CampaignFigures(BaseModel):
    campaign: str
    state: str
    simulated: bool = Field(description="true when some figures come from demo events")
    segments: list[SegmentFigures]
    totals: Counts
    figures: Figures


class ComparisonRow(BaseModel):
    campaign: str
    name: str
    started_at: datetime | None
    segment: str | None = Field(description="null: all segments")
    counts: Counts
    figures: Figures
    health: list[str] = Field(description="Thresholds passed (complaints, bounces)")


class ComparisonFigures(BaseModel):
    since: date
    simulated: bool
    bookings_imported: bool
    rows: list[ComparisonRow]


class ActionOutcome(BaseModel):
    campaign: Campaign
    message: str
    notes: list[str]


class NewCampaign(BaseModel):
    article: str = Field(min_length=1, max_length=200, description="The article's slug")
    name: str = Field(default="", max_length=200, description="Default: the article's title")
    segments: list[str] = Field(default=[], description="Default: every segment")


class ScheduleRequest(BaseModel):
    at: AwareDatetime | None = Field(
        default=None, description="When to send (with its UTC offset); default: the file's time"
    )


class PlanVariant(BaseModel):
    segment: str
    subject: str
    preheader: str
    relevance: float
    matches: dict[str, int]
    audience: int


class PlanSkip(BaseModel):
    segment: str
    reason: str


class Finding(BaseModel):
    segment: str
    level: str
    check: str
    message: str


class CampaignPlan(BaseModel):
    campaign: str
    threshold: float
    variants: list[PlanVariant]
    skipped: list[PlanSkip]
    findings: list[Finding]


class Day(BaseModel):
    day: date
    counts: dict[str, int]


class OverviewFigures(BaseModel):
    since: date
    simulated: bool
    segments: list[SegmentFigures]
    totals: Counts
    figures: Figures


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some API route serves at `path`: the router answers a wrong method with
    405 naming only the first route that matched the path, so the Allow header is rebuilt."""
    methods: set[str] = set()
    for route in iter_route_contexts(app.routes):
        regex = getattr(route, "path_regex", None)
        if route.methods and regex is not None and regex.match(path):
            methods |= route.methods
    return sorted(methods)


def _campaign(record: CampaignLifecycle) -> Campaign:
    return Campaign(
        slug=record.slug,
        name=record.name,
        origin=record.origin,
        state=record.state,
        scheduled_for=record.scheduled_for,
        approved_by=record.approved_by,
        approved_at=record.approved_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        state_reason=record.state_reason,
    )


def _counts(counts: MetricCounts) -> Counts:
    return Counts(**counts.as_dict())


def _figures(counts: MetricCounts, bookings: BookingSums | None) -> Figures:
    return Figures(**rates(counts), **booking_figures(bookings, counts.delivered))


def _segment(segment: SegmentMetrics) -> SegmentFigures:
    return SegmentFigures(
        segment=segment.segment,
        code=segment.code,
        counts=_counts(segment.counts),
        figures=_figures(segment.counts, segment.bookings),
    )


def _outcome(result: ActionResult) -> ActionOutcome:
    return ActionOutcome(
        campaign=_campaign(result.campaign), message=result.message, notes=list(result.notes)
    )


@router.get("/campaigns", summary="Every campaign, from files and from the web app")
def list_campaigns(request: Request) -> list[Campaign]:
    with request.app.state.engine.connect() as conn:
        return [_campaign(record) for record in lifecycle_store.all_campaigns(conn)]


@router.post("/campaigns", status_code=201, summary="Make a draft campaign from an article")
def create_campaign(request: Request, body: NewCampaign, user: ApiUser) -> Campaign:
    engine = request.app.state.engine
    slug = create_web_campaign(
        engine,
        request.app.state.settings,
        article_slug=body.article,
        name=body.name,
        segments=body.segments,
        created_by=user.email,
    )
    return _campaign(get_lifecycle(engine, slug))


@router.get("/campaigns/{slug}", summary="One campaign's state and schedule")
def get_campaign(request: Request, slug: Slug) -> Campaign:
    return _campaign(get_lifecycle(request.app.state.engine, slug))


@router.get("/campaigns/{slug}/plan", summary="The plan: variants, evidence and check findings")
def get_plan(request: Request, slug: Slug) -> CampaignPlan:
    preview = build_preview(request.app.state.engine, request.app.state.settings, slug)
    return CampaignPlan(
        campaign=slug,
        threshold=preview.plan.threshold,
        variants=[
            PlanVariant(
                segment=variant.segment,
                subject=variant.subject,
                preheader=variant.preheader,
                relevance=variant.score,
                matches=dict(variant.matches),
                audience=variant.audience,
            )
            for variant in preview.plan.variants
        ],
        skipped=[PlanSkip(segment=s.segment, reason=s.reason) for s in preview.plan.skipped],
        findings=[
            Finding(segment=f.segment, level=f.level, check=f.check, message=f.message)
            for f in preview.findings
        ],
    )


@router.get("/campaigns/{slug}/metrics", summary="Sends, deliveries and engagement per segment")
def get_campaign_metrics(request: Request, slug: Slug) -> CampaignFigures:
    get_lifecycle(request.app.state.engine, slug)
    with request.app.state.engine.connect() as conn:
        metrics = campaign_metrics(conn, slug)
    return CampaignFigures(
        campaign=metrics.campaign,
        state=metrics.state,
        simulated=metrics.simulated,
        segments=[_segment(s) for s in metrics.segments],
        totals=_counts(metrics.totals),
        figures=_figures(metrics.totals, metrics.bookings),
    )


@router.post("/campaigns/{slug}/approve", summary="draft → approved")
def approve(request: Request, slug: Slug, user: ApiUser) -> ActionOutcome:
    return _outcome(approve_campaign(request.app.state.engine, slug, user.email))


@router.post("/campaigns/{slug}/schedule", summary="approved → scheduled, at a time")
def schedule(request: Request, slug: Slug, body: ScheduleRequest) -> ActionOutcome:
    engine, settings = request.app.state.engine, request.app.state.settings
    return _outcome(schedule_campaign(engine, settings, slug, at=body.at))


@router.post("/campaigns/{slug}/pause", summary="scheduled or sending → paused")
def pause(request: Request, slug: Slug, user: ApiUser) -> ActionOutcome:
    return _outcome(pause_campaign(request.app.state.engine, slug, user.email))


@router.post("/campaigns/{slug}/resume", summary="paused → scheduled or sending")
def resume(request: Request, slug: Slug) -> ActionOutcome:
    engine, settings = request.app.state.engine, request.app.state.settings
    return _outcome(resume_campaign(engine, settings, slug))


@router.post("/campaigns/{slug}/cancel", summary="Cancel: queued emails are never sent")
def cancel(request: Request, slug: Slug, user: ApiUser) -> ActionOutcome:
    return _outcome(cancel_campaign(request.app.state.engine, slug, user.email))


class OverviewQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: int = Field(default=30, ge=1, le=366, description="How many local days, today included")


class DailyQuery(OverviewQuery):
    campaign: str | None = Field(default=None, max_length=200, description="Default: every one")


@router.get("/metrics/overview", summary="Figures per segment across campaigns, last N days")
def metrics_overview(request: Request, query: Annotated[OverviewQuery, Query()]) -> OverviewFigures:
    zone = request.app.state.settings.clinic.zone
    since = local_today(zone) - timedelta(days=query.days - 1)
    with request.app.state.engine.connect() as conn:
        figures = overview(conn, since, zone=zone)
    return OverviewFigures(
        since=figures.since,
        simulated=figures.simulated,
        segments=[_segment(s) for s in figures.segments],
        totals=_counts(figures.totals),
        figures=_figures(figures.totals, figures.bookings),
    )


class ComparisonQuery(OverviewQuery):
    segment: str | None = Field(default=None, max_length=60, description="Default: all")
    sort: str = Field(default="delivered", pattern="^(" + "|".join(SORT_KEYS) + ")$")
    dir: str = Field(default="desc", pattern="^(asc|desc)$")


@router.get("/metrics/comparison", summary="The dashboard's comparison: one row per campaign")
def metrics_comparison(
    request: Request, query: Annotated[ComparisonQuery, Query()]
) -> ComparisonFigures:
    zone = request.app.state.settings.clinic.zone
    since = local_today(zone) - timedelta(days=query.days - 1)
    with request.app.state.engine.connect() as conn:
        result = comparison(
            conn, since, zone=zone, segment=query.segment, sort=query.sort,
            descending=query.dir == "desc",
        )  # fmt: skip
    return ComparisonFigures(
        since=since,
        simulated=result.simulated,
        bookings_imported=result.bookings_imported,
        rows=[
            ComparisonRow(
                campaign=row.campaign,
                name=row.name,
                started_at=row.started_at,
                segment=row.segment,
                counts=_counts(row.counts),
                figures=_figures(row.counts, row.bookings),
                health=[text for _, text in health_flags(row.counts)],
            )
            for row in result.rows
        ],
    )


@router.get("/metrics/daily", summary="Engagement first seen per local day, last N days")
def metrics_daily(request: Request, query: Annotated[DailyQuery, Query()]) -> list[Day]:
    engine = request.app.state.engine
    if query.campaign is not None:
        get_lifecycle(engine, query.campaign)
    today = local_today(request.app.state.settings.clinic.zone)
    with engine.connect() as conn:
        series = daily_series(conn, query.campaign, query.days, today=today)
    return [Day(day=item.day, counts=dict(item.counts)) for item in series]
