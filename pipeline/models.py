"""Plain, frozen dataclasses passed between the pipeline's stages.

No I/O here: loaders build these, pure stages transform them, the store and backends persist them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum, auto
from typing import Any, Literal, NamedTuple

BlockType = Literal["heading", "paragraph", "list", "quote", "image"]
CtaKind = Literal["booking", "read_more", "article_ref", "link"]
ConsentStatus = Literal["subscribed", "unsubscribed", "none"]
SendStatus = Literal["queued", "sending", "sent", "failed", "skipped", "unknown"]
SuppressionReason = Literal["bounce", "complaint", "unsubscribe", "manual", "erased", "invalid"]

GENERAL_SEGMENT = "general"


@dataclass(frozen=True)
class Block:
    """One block of article content. A list's items are in `items`; `text` joins them."""

    type: BlockType
    text: str
    alt: str | None = None
    src: str | None = None
    level: int | None = None
    items: tuple[str, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class CallToAction:
    kind: CtaKind
    text: str
    url: str


@dataclass(frozen=True)
class ParseWarning:
    line: int | None
    message: str


@dataclass(frozen=True)
class Article:
    slug: str
    title: str
    summary: str
    published: date | None
    tags: tuple[str, ...]
    canonical_url: str | None
    hero_image: str | None
    blocks: tuple[Block, ...]
    ctas: tuple[CallToAction, ...]
    word_count: int
    warnings: tuple[ParseWarning, ...] = ()
    source_path: str | None = None
    source_kind: Literal["markdown", "text", "html", "feed"] = "markdown"
    content_hash: str = ""
    # The hero image's text alternative (front matter `hero_alt`); not part of the document.
    hero_alt: str | None = None

    @property
    def paragraphs(self) -> tuple[str, ...]:
        """The paragraph texts in article order: what relevance scores and excerpts use."""
        return tuple(block.text for block in self.blocks if block.type == "paragraph")


@dataclass(frozen=True)
class Contact:
    email: str
    first_name: str = ""
    last_name: str = ""
    tags: frozenset[str] = frozenset()
    attributes: Mapping[str, str] = field(default_factory=dict)
    consent_status: ConsentStatus = "none"
    consent_source: str | None = None
    consent_at: datetime | None = None
    consent_wording: str | None = None
    id: int | None = None


@dataclass(frozen=True)
class Condition:
    """One test of a contact field: `field` is `tags` or `attributes.<name>`."""

    field: str
    op: Literal["equals", "in", "contains", "present", "within"]
    value: Any = None


@dataclass(frozen=True)
class Rule:
    """A declarative segment rule: all / any / not over conditions and nested rules."""

    mode: Literal["all", "any", "not"]
    terms: tuple[Condition | Rule, ...]


@dataclass(frozen=True)
class Topic:
    phrase: str
    weight: float
    # Other wordings that count as this phrase ("rehab" for "rehabilitation").
    variants: tuple[str, ...] = ()
    # Senses the phrase must not match: a match inside one of these is not counted
    # ("running" is not found in "runs through the back of the thigh").
    exclude: tuple[str, ...] = ()
    # Match the words as written (a plural aside), not every word that shares their stem.
    exact: bool = False


@dataclass(frozen=True)
class SegmentVoice:
    """How a segment is written to: the angle it cares about and the patterns of its subject,
    preheader, intro and call to action. Each pattern is a list tried in order; the first
    whose placeholders ({title}, {phrase}, {clinic}, {angle}) can be filled and that fits wins."""

    angle: str
    subject: tuple[str, ...]
    preheader: tuple[str, ...]
    intro: tuple[str, ...]
    cta: tuple[str, ...]


@dataclass(frozen=True)
class Segment:
    name: str
    label: str
    code: str
    sensitive: bool
    priority: int
    rule: Rule | None
    topics: tuple[Topic, ...] = ()
    voice: SegmentVoice | None = None


@dataclass(frozen=True)
class Relevance:
    """How well an article fits one segment, with the evidence."""

    segment: str
    score: float
    matches: Mapping[str, int]
    paragraphs: tuple[int, ...]


@dataclass(frozen=True)
class SegmentOverride:
    subject: str | None = None
    preheader: str | None = None
    intro: str | None = None
    excerpt: tuple[int, ...] | None = None
    cta: str | None = None


@dataclass(frozen=True)
class Utm:
    source: str = "clinicmail"
    medium: str = "email"
    campaign: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class CampaignSpec:
    slug: str
    name: str
    template: str
    article: str | None = None
    digest_latest: int | None = None
    segments: tuple[str, ...] | Literal["all"] = "all"
    overrides: Mapping[str, SegmentOverride] = field(default_factory=dict)
    send_at: datetime | None = None
    cron: str | None = None
    utm: Utm = Utm()
    threshold: float | None = None
    source_path: str | None = None
    # An explicit list of article slugs (a digest occurrence fixed at its start); overrides
    # `article` and `digest_latest` when given.
    articles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Variant:
    """What one segment receives for one campaign, before per-recipient tokens are filled."""

    campaign: str
    segment: str
    segment_code: str
    subject: str
    preheader: str
    intro: str
    excerpt: tuple[str, ...]
    score: float
    matches: Mapping[str, int]
    audience: int = 0
    # The articles this variant shows, by slug, most relevant to its segment first (a digest).
    articles: tuple[str, ...] = ()
    # The read-more button's wording.
    cta: str = "Read the full article"


@dataclass(frozen=True)
class RenderedVariant:
    """A variant compiled once (Jinja2, then mrml): subject, HTML and text with per-recipient
    placeholders still in them. `html_tokens` and `text_tokens` map a token name (first_name,
    unsubscribe_url, preferences_url, view_url) to the placeholder that stands for it in that part;
    placeholders carry a nonce made at render time, so article text can never produce one."""

    campaign: str
    segment: str
    segment_code: str
    subject: str
    preheader: str
    html: str
    text: str
    html_tokens: Mapping[str, str]
    text_tokens: Mapping[str, str]
    campaign_id: int | None = None
    variant_id: int | None = None


class Recipient(NamedTuple):
    """One person a rendered variant goes to, with the raw (unescaped) values of its tokens. A
    named tuple: a batch makes a thousand, at half a dataclass's cost."""

    send_id: int
    email: str
    values: Mapping[str, str]


@dataclass(frozen=True)
class Message:
    """One complete email for one recipient: what SMTP and file delivery write out."""

    send_id: int
    to: str
    subject: str
    html: str
    text: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class SendResult:
    send_id: int
    outcome: Literal["sent", "failed", "retry", "unknown"]
    provider_message_id: str | None = None
    reason: str | None = None
    retry_after: float | None = None


# A claimed row as the outbox hands it to a backend: (send id, contact id, address, first name).
# A plain tuple: a claim makes a thousand at a time, and they cross to sending processes, which
# need no class to read them.
ClaimedRow = tuple[int, int, str, str]


class Outcome(NamedTuple):
    """An outcome with its details, shared by every row it is recorded for: the key send ids are
    grouped under (a tuple, so grouping a batch stays cheap)."""

    status: Literal["sent", "failed", "retry", "unknown"]
    provider_message_id: str | None = None
    reason: str | None = None
    retry_after: float | None = None


def group_results(results: Iterable[SendResult]) -> dict[Outcome, list[int]]:
    """Send ids by outcome and details: what record_results writes, one UPDATE per group (a
    whole batch the provider accepted is one group)."""
    groups: dict[Outcome, list[int]] = {}
    for r in results:
        key = Outcome(r.outcome, r.provider_message_id, r.reason, r.retry_after)
        groups.setdefault(key, []).append(r.send_id)
    return groups


@dataclass(frozen=True)
class Event:
    sg_event_id: str
    event: str
    occurred_at: datetime
    send_id: int | None
    email: str | None = None
    url: str | None = None
    reason: str | None = None
    machine_open: bool = False
    simulated: bool = False
    # A bounce's SendGrid `type` ("bounce": the address is bad; "blocked": the receiving server
    # refused this message) and `bounce_classification`; only hard bounces should suppress.
    bounce_type: str | None = None
    bounce_classification: str | None = None
    message_id: str | None = None


StaffRole = Literal["owner", "marketing"]


@dataclass(frozen=True)
class StaffUser:
    """A person who signs in to the web app. Owners can do everything; marketing staff can do
    everything except manage users."""

    id: int
    email: str
    role: StaffRole
    password_hash: str
    must_change_password: bool = False
    last_login_at: datetime | None = None

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


class CampaignState(StrEnum):
    """Where a campaign stands in its lifecycle (members are named as their values, so any
    driver binds either the same)."""

    draft = auto()
    approved = auto()
    scheduled = auto()
    sending = auto()
    sent = auto()
    paused = auto()
    cancelled = auto()
    missed = auto()
    failed = auto()


# Which states each staff action may start from (pipeline.campaigns.actions); anything else is
# refused with the state named.
APPROVABLE = (CampaignState.draft,)
SCHEDULABLE = (CampaignState.approved, CampaignState.scheduled, CampaignState.missed)
PAUSABLE = (CampaignState.scheduled, CampaignState.sending, CampaignState.paused)
CANCELLABLE = (
    CampaignState.draft,
    CampaignState.approved,
    CampaignState.scheduled,
    CampaignState.sending,
    CampaignState.paused,
    CampaignState.missed,
    CampaignState.failed,
)
# States in which a campaign still has work ahead of it (its file may not vanish silently).
OPEN_STATES = (
    CampaignState.draft,
    CampaignState.approved,
    CampaignState.scheduled,
    CampaignState.paused,
    CampaignState.missed,
)
# States the outbox starts a campaign from (only approved campaigns are ever sent), and those
# in which it has started already.
STARTABLE = (CampaignState.approved, CampaignState.scheduled)
ALREADY_STARTED = (CampaignState.sending, CampaignState.sent)


@dataclass(frozen=True)
class CampaignLifecycle:
    """Where a campaign stands: its state, when it is due, who approved it and why it is where
    it is (`state_reason`, shown to staff). `resume_at` is set while quiet hours or a closure
    date hold it back; `cron` is set for a recurring (digest) campaign."""

    id: int
    slug: str
    name: str
    origin: str
    state: CampaignState
    spec_hash: str
    scheduled_for: datetime | None = None
    approved_at: datetime | None = None
    approved_by: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    state_reason: str | None = None
    resume_at: datetime | None = None
    cron: str | None = None
    send_at: datetime | None = None


@dataclass(frozen=True)
class SkippedSegment:
    """A targeted segment that gets no variant, and why (shown in the plan)."""

    segment: str
    reason: str


@dataclass(frozen=True)
class Plan:
    """What a campaign would send: one variant per segment that fits, in assignment order (a
    contact in several segments gets the first variant whose segment it belongs to; `general`,
    when targeted, comes last and takes everyone else)."""

    campaign: CampaignSpec
    variants: tuple[Variant, ...]
    skipped: tuple[SkippedSegment, ...]
    articles: tuple[Article, ...]
    threshold: float


@dataclass(frozen=True)
class Finding:
    """One result of checking a rendered variant: an error blocks sending, a warning does not."""

    segment: str
    level: Literal["error", "warning"]
    check: str
    message: str


METRIC_NAMES = (
    "audience", "queued", "sent", "delivered", "bounced", "dropped", "opens", "machine_opens",
    "clicks", "booking_clicks", "unsubscribes", "complaints", "failed", "skipped", "unknown",
)  # fmt: skip


@dataclass(frozen=True)
class MetricCounts:
    """What happened to a set of sends. Engagement figures count sends, not events: `opens` is
    sends opened by a person at least once (machine opens, e.g. Apple Mail Privacy Protection,
    are `machine_opens`), `clicks` sends with a click, `booking_clicks` a click on the booking
    page."""

    audience: int = 0
    queued: int = 0
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    dropped: int = 0
    opens: int = 0
    machine_opens: int = 0
    clicks: int = 0
    booking_clicks: int = 0
    unsubscribes: int = 0
    complaints: int = 0
    failed: int = 0
    skipped: int = 0
    unknown: int = 0

    @property
    def click_rate(self) -> float | None:
        """Clicks per delivered email."""
        return self.clicks / self.delivered if self.delivered else None

    @property
    def click_to_open_rate(self) -> float | None:
        """Clicks per (human) open."""
        return self.clicks / self.opens if self.opens else None

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in METRIC_NAMES}


@dataclass(frozen=True)
class BookingSums:
    """Bookings credited to a set of sends: kept appointments (`bookings`, with their revenue
    and how many were a new client's), cancelled and no-shows counted apart."""

    bookings: int = 0
    cancelled: int = 0
    no_shows: int = 0
    new_clients: int = 0
    revenue_cents: int = 0
    simulated: bool = False

    def __add__(self, other: BookingSums) -> BookingSums:
        return BookingSums(
            self.bookings + other.bookings,
            self.cancelled + other.cancelled,
            self.no_shows + other.no_shows,
            self.new_clients + other.new_clients,
            self.revenue_cents + other.revenue_cents,
            self.simulated or other.simulated,
        )


@dataclass(frozen=True)
class SegmentMetrics:
    segment: str
    code: str
    counts: MetricCounts
    # None: no bookings were ever imported, so booking figures are unknown (not zero).
    bookings: BookingSums | None = None


@dataclass(frozen=True)
class CampaignMetrics:
    campaign: str
    name: str
    state: str
    scheduled_for: datetime | None
    started_at: datetime | None
    segments: tuple[SegmentMetrics, ...]
    totals: MetricCounts
    simulated: bool = False
    bookings: BookingSums | None = None


@dataclass(frozen=True)
class DayMetrics:
    """One local day (the clinic's timezone): sends with their first such engagement that day."""

    day: date
    counts: Mapping[str, int]


@dataclass(frozen=True)
class CampaignSummary:
    campaign: str
    name: str
    state: str
    started_at: datetime | None


@dataclass(frozen=True)
class Overview:
    """The owner's view of the last days: figures per segment across campaigns, and whether any
    of them come from simulated (local server) events."""

    since: date
    segments: tuple[SegmentMetrics, ...]
    totals: MetricCounts
    campaigns: tuple[CampaignSummary, ...]
    simulated: bool
    bookings: BookingSums | None = None
