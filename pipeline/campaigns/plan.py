"""The plan of a campaign: which segments get a variant (relevance, excerpt, subject and
preheader for each), which are skipped and why, and how many contacts each variant reaches.
Pure: it takes the articles, segments and audience counts pipeline.campaigns.loading loaded."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace

from pipeline.campaigns.copy import (
    SUBJECT_TARGET,
    Copy,
    best_phrase,
    digest_intro,
    fit_subject,
    write_copy,
)
from pipeline.campaigns.spec import is_general, targeted_segments
from pipeline.config import Settings
from pipeline.content.excerpt import standalone_excerpt, without_repeats
from pipeline.errors import SpecError
from pipeline.models import (
    Article,
    CampaignSpec,
    Plan,
    Relevance,
    Segment,
    SegmentOverride,
    SkippedSegment,
    Variant,
)
from pipeline.segments.relevance import score_article
from pipeline.segments.revealing import revealing_words

# An article fits a segment when its relevance reaches this (scores lie in [0, 1); a campaign
# file's `threshold` overrides it). One strong phrase seen once scores about 0.29.
DEFAULT_THRESHOLD = 0.2
# The excerpt: the segment's best paragraphs, in article order, within this many words.
EXCERPT_WORDS = 120


def plan_campaign(
    settings: Settings,
    spec: CampaignSpec,
    articles: Sequence[Article],
    segments: Sequence[Segment],
    *,
    no_articles: str = "",
) -> Plan:
    """The campaign's variants in assignment order and the skipped segments, from loaded data:
    its articles (`no_articles` says why there are none) and the workspace's segments. Each
    variant's audience is 0 until with_audience gives the counts. Pure: no database, no file."""
    all_segments = list(segments)
    targets = targeted_segments(spec, all_segments)
    threshold = spec.threshold if spec.threshold is not None else DEFAULT_THRESHOLD
    if not articles:
        skipped = tuple(SkippedSegment(segment.name, no_articles) for segment in targets)
        return Plan(spec, (), skipped, (), threshold)
    relevance = _relevance(articles, all_segments, is_digest(spec, articles))
    fitting: list[Segment] = []
    skipped: list[SkippedSegment] = []
    for segment in targets:
        if is_general(segment):
            continue
        score = relevance[segment.name].score
        if score < threshold:
            skipped.append(
                SkippedSegment(
                    segment.name,
                    f"relevance {score:.2f} is below the threshold {threshold:.2f}"
                    + (
                        "; its clients get the general variant" if _targets_general(targets) else ""
                    ),
                )
            )
        else:
            fitting.append(segment)
    ordered = segment_order(fitting, relevance)
    include_general = _targets_general(targets)
    general = next((s for s in all_segments if is_general(s)), None)
    variant_segments = [*ordered, *([general] if include_general and general else [])]
    variants = tuple(
        _variant(settings, spec, segment, articles, relevance) for segment in variant_segments
    )
    return Plan(spec, variants, tuple(skipped), tuple(articles), threshold)


def with_audience(plan: Plan, audience: Mapping[str, int]) -> Plan:
    """The plan with each variant's audience: `audience` counts by segment name, as
    store.campaigns.audience_by_variant gives them for assignment_segments(plan)."""
    variants = tuple(
        replace(variant, audience=audience.get(variant.segment, 0)) for variant in plan.variants
    )
    return replace(plan, variants=variants)


def segment_order(segments: Sequence[Segment], relevance: Mapping[str, Relevance]) -> list[Segment]:
    """Best-fitting first: higher relevance, then higher priority, then name."""
    return sorted(
        segments,
        key=lambda segment: (-relevance[segment.name].score, -segment.priority, segment.name),
    )


def segment_assignment_order(plan: Plan) -> list[str]:
    """Which segment wins for a contact in several: the variants' segments in the order their
    conditions are tried (`general`, when present, is the fallback and comes last)."""
    return [variant.segment for variant in plan.variants]


def assignment_segments(
    plan: Plan, segments: Sequence[Segment]
) -> tuple[list[Segment], str | None, list[Segment]]:
    """What `store.campaigns.assignment_case` needs for this plan: the ruled segments with a
    variant in assignment order, the general variant's segment name (None when general is not
    targeted) and the segments the campaign's explicit list leaves out."""
    by_name = {segment.name: segment for segment in segments}
    ordered = [by_name[v.segment] for v in plan.variants if not is_general(by_name[v.segment])]
    general = next((v.segment for v in plan.variants if is_general(by_name[v.segment])), None)
    targeted = targeted_segments(plan.campaign, segments)
    excluded = [s for s in segments if s not in targeted and not is_general(s)]
    return ordered, general, excluded


def _targets_general(targets: Sequence[Segment]) -> bool:
    return any(is_general(segment) for segment in targets)


def is_digest(spec: CampaignSpec, articles: Sequence[Article]) -> bool:
    """A digest shows article cards (even when only one article is new); otherwise the one
    article is excerpted."""
    return spec.digest_latest is not None or len(articles) > 1


def _relevance(
    articles: Sequence[Article], segments: Sequence[Segment], digest: bool
) -> dict[str, Relevance]:
    """One article: its relevance per segment. A digest (even of one article): each segment's
    best score, the phrases matched across all, and the articles best for it first
    (`paragraphs` then indexes the articles, not paragraphs)."""
    scored = [score_article(article, segments) for article in articles]
    if not digest:
        return scored[0]
    combined = {}
    for name in scored[0]:
        matches: Counter[str] = Counter()
        for per_article in scored:
            matches.update(per_article[name].matches)
        order = sorted(range(len(articles)), key=lambda index: (-scored[index][name].score, index))
        combined[name] = Relevance(
            name,
            max(per_article[name].score for per_article in scored),
            dict(matches),
            tuple(order),
        )
    return combined


def _variant(
    settings: Settings,
    spec: CampaignSpec,
    segment: Segment,
    articles: Sequence[Article],
    relevance: Mapping[str, Relevance],
) -> Variant:
    fit = relevance[segment.name]
    override = spec.overrides.get(segment.name, SegmentOverride())
    phrase = best_phrase(fit.matches)
    if is_digest(spec, articles):
        ordered = [articles[index] for index in fit.paragraphs] or list(articles)
        copy = write_copy(
            segment, title=ordered[0].title, phrase=phrase, clinic=settings.clinic.name
        )
        excerpt = tuple(article.summary for article in ordered)
        subject = override.subject or derive_digest_subject(settings, segment, ordered, copy)
        preheader = override.preheader or copy.preheader
        intro = override.intro or digest_intro(segment, len(ordered))
        slugs = tuple(article.slug for article in ordered)
    else:
        article = articles[0]
        copy = write_copy(
            segment,
            title=article.title,
            phrase=phrase,
            clinic=settings.clinic.name,
            summary=article.summary,
        )
        subject = override.subject or copy.subject
        preheader = override.preheader or copy.preheader
        intro = override.intro or copy.intro
        excerpt = choose_excerpt(article, fit, override.excerpt, spec.source_path, segment.name)
        excerpt = without_repeats(excerpt, (preheader, intro))
        slugs = (article.slug,)
    return Variant(
        campaign=spec.slug,
        segment=segment.name,
        segment_code=segment.code,
        subject=subject,
        preheader=preheader,
        intro=intro,
        excerpt=excerpt,
        score=fit.score,
        matches=dict(fit.matches),
        articles=slugs,
        cta=override.cta or copy.cta,
    )


def choose_excerpt(
    article: Article,
    fit: Relevance,
    chosen: tuple[int, ...] | None,
    source: str | None,
    segment: str,
    budget: int = EXCERPT_WORDS,
) -> tuple[str, ...]:
    """The segment's best paragraphs, in article order, within `budget` words, each standing
    alone (see content.excerpt). `chosen` (1-based paragraph numbers from the file) wins."""
    paragraphs = article.paragraphs
    if chosen is not None:
        beyond = [number for number in chosen if number > len(paragraphs)]
        if beyond:
            raise SpecError(
                f"overrides.{segment}.excerpt: paragraph {beyond[0]} does not exist; "
                f"{article.slug!r} has {len(paragraphs)} paragraphs",
                path=source,
            )
        return tuple(paragraphs[number - 1] for number in chosen)
    ranked = list(fit.paragraphs) or list(range(len(paragraphs)))
    return standalone_excerpt(paragraphs, ranked, budget)


def derive_digest_subject(
    settings: Settings, segment: Segment, articles: Sequence[Article], copy: Copy
) -> str:
    """The segment's subject for the lead article, with how many more there are when that
    fits; a neutral one when the lead's title would reveal a condition."""
    lead = articles[0].title
    if not segment.sensitive or not revealing_words(lead, segment):
        more = f"{copy.subject}, and {len(articles) - 1} more"
        if len(articles) > 1 and len(more) <= SUBJECT_TARGET:
            return more
        return copy.subject
    count = f"{len(articles)} new articles" if len(articles) > 1 else "A new article"
    return fit_subject([f"{count} from {settings.clinic.name}", count])
