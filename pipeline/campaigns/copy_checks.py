"""Checks across a campaign's variants: a subject made from a file name, a guessed article
address, a preheader of the wrong length, and segments whose emails read the same."""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import combinations

from rapidfuzz import fuzz

from pipeline.campaigns.copy import PREHEADER_LIMIT, PREHEADER_MIN, SUBJECT_TARGET
from pipeline.config import Settings
from pipeline.content.plaintext import title_is_file_name
from pipeline.models import Finding, Plan, RenderedVariant
from pipeline.render.compile import article_url

# Two variants whose visible text is at least this alike (rapidfuzz ratio, 0-100) read the same.
SAME_TEXT_RATIO = 90
_URL = re.compile(r"https?://\S+")


def copy_findings(
    settings: Settings, plan: Plan, rendered: Sequence[RenderedVariant]
) -> list[Finding]:
    found: list[Finding] = []
    by_segment = {variant.segment: variant for variant in plan.variants}
    for article in plan.articles:
        if not article.canonical_url:
            url = article_url(settings, article)
            found.append(
                Finding(
                    "-",
                    "warning",
                    "links",
                    f"the address of {article.slug!r} is guessed as {url} (the article has no "
                    "canonical_url), and that page may not exist: give the article its "
                    "canonical_url",
                )
            )
    file_named = [article for article in plan.articles[:1] if title_is_file_name(article)]
    for variant in plan.variants:
        override = plan.campaign.overrides.get(variant.segment)
        if file_named and not (override and override.subject):
            found.append(
                Finding(
                    variant.segment,
                    "warning",
                    "subject",
                    f"the subject {variant.subject!r} comes from the file name of "
                    f"{file_named[0].slug!r} (it has no title line); write a real subject in "
                    f"the campaign file (overrides.{variant.segment}.subject)",
                )
            )
        if len(variant.subject) > SUBJECT_TARGET:
            found.append(
                Finding(
                    variant.segment,
                    "warning",
                    "subject",
                    f"the subject is {len(variant.subject)} characters; phones show about "
                    f"{SUBJECT_TARGET}, so the end of it may not be read",
                )
            )
        if not PREHEADER_MIN <= len(variant.preheader) <= PREHEADER_LIMIT:
            found.append(
                Finding(
                    variant.segment,
                    "warning",
                    "preheader",
                    f"the preheader is {len(variant.preheader)} characters; a sentence of "
                    f"{PREHEADER_MIN} to {PREHEADER_LIMIT} fills the inbox preview",
                )
            )
    texts = {variant.segment: visible_text(variant) for variant in rendered}
    for first, second in combinations(texts, 2):
        ratio = fuzz.ratio(texts[first], texts[second])
        if ratio >= SAME_TEXT_RATIO and first in by_segment and second in by_segment:
            found.append(
                Finding(
                    second,
                    "warning",
                    "tailoring",
                    f"the {first!r} and {second!r} emails read the same ({ratio:.0f}% alike): "
                    "give one of them its own subject, intro or excerpt (campaign file "
                    "overrides, or the segment's voice in segments.yaml)",
                )
            )
    return found


def visible_text(rendered: RenderedVariant) -> str:
    """What a reader of the variant sees, as words: its subject and text part, without the
    per-recipient placeholders and the links (which differ only in their tracking codes)."""
    text = rendered.text
    for placeholder in rendered.text_tokens.values():
        text = text.replace(placeholder, " ")
    text = _URL.sub(" ", text)
    return " ".join(f"{rendered.subject} {text}".split())
