"""The words each segment reads around an article (subject, preheader, intro, call to action),
written from its voice in campaigns/segments.yaml and fitted to their limits."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pipeline.checks import SUBJECT_LIMIT
from pipeline.models import Segment, SegmentVoice
from pipeline.segments.revealing import revealing_words
from pipeline.segments.voice import DEFAULT_VOICE, DISCREET_VOICE, placeholders

# Phones show about this many characters of a subject; longer ones are shortened to it.
SUBJECT_TARGET = 60
# A preheader is one sentence that fills the inbox preview line without running past it.
PREHEADER_MIN = 40
PREHEADER_LIMIT = 110
NEUTRAL_PREHEADER = "Practical advice from our therapists, with a link to book when it suits you."
# Words a shortened text should not end on: they promise something that was cut.
_DANGLING = frozenset({
    "a", "an", "and", "at", "but", "by", "for", "from", "in", "into", "of", "on", "or", "our",
    "the", "to", "with", "your",
})  # fmt: skip


@dataclass(frozen=True)
class Copy:
    """What one segment reads around its excerpt."""

    subject: str
    preheader: str
    intro: str
    cta: str


def voice_of(segment: Segment) -> SegmentVoice:
    """The segment's own voice, else a neutral one (a discreet one for a sensitive segment)."""
    if segment.voice is not None:
        return segment.voice
    return DISCREET_VOICE if segment.sensitive else DEFAULT_VOICE


def best_phrase(matches: Mapping[str, int]) -> str | None:
    """The segment's phrase that the article matched most (matches come ordered that way)."""
    return next(iter(matches), None)


def write_copy(
    segment: Segment, *, title: str, phrase: str | None, clinic: str, summary: str = ""
) -> Copy:
    """Subject, preheader, intro and call to action for `segment`, filled from its voice."""
    voice = voice_of(segment)
    values = {"title": title, "phrase": phrase, "clinic": clinic, "angle": voice.angle}
    return Copy(
        subject=fit_subject(_filled(voice.subject, values, segment)),
        preheader=_preheader(_filled(voice.preheader, values, segment), summary, segment),
        intro=_first(_filled(voice.intro, values, segment)) or summary,
        cta=_first(_filled(voice.cta, values, segment)) or "Read the full article",
    )


def digest_intro(segment: Segment, count: int) -> str:
    """A digest's intro: the articles are ordered by the segment's angle, and it says so."""
    if count == 1:
        return f"Here is our latest article, picked with {voice_of(segment).angle} in mind."
    return f"Here are our latest articles, with the ones about {voice_of(segment).angle} first."


def _filled(
    patterns: Sequence[str], values: Mapping[str, str | None], segment: Segment
) -> list[str]:
    """Each pattern filled, in order, leaving out those with a placeholder that has no value
    and, for a sensitive segment, those that would reveal a condition."""
    texts = []
    for pattern in patterns:
        names = placeholders(pattern)
        if any(not values.get(name) for name in names):
            continue
        text = " ".join(pattern.format_map({name: values[name] for name in names}).split())
        if segment.sensitive and revealing_words(text, segment):
            continue
        texts.append(_capitalised(text))
    return texts


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _first(texts: Sequence[str]) -> str | None:
    return texts[0] if texts else None


def fit_subject(candidates: Sequence[str], target: int = SUBJECT_TARGET) -> str:
    """The first candidate within `target` characters, else the first one shortened to it at a
    word boundary. Never over SUBJECT_LIMIT."""
    for candidate in candidates:
        if len(candidate) <= min(target, SUBJECT_LIMIT):
            return candidate
    if not candidates:
        return "New from our therapists"
    return shorten(candidates[0], target)


def shorten(text: str, limit: int) -> str:
    """`text` on one line within `limit` characters, cut at a word boundary (never inside a
    word), without a dangling small word or punctuation at the end, marked with "…"."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    words = flat[:limit].split(" ")
    if flat[limit] != " ":
        words = words[:-1]
    while words and (
        words[-1].lower().strip(",;:") in _DANGLING or not re.search(r"\w", words[-1])
    ):
        words.pop()
    if not words:
        return flat[: limit - 1].rstrip() + "…"
    kept = " ".join(words).rstrip(",;:-–—")
    return (kept[: limit - 1].rstrip() if len(kept) >= limit else kept) + "…"


def _preheader(candidates: Sequence[str], summary: str, segment: Segment) -> str:
    """The first hook of a preheader's length; else the first hook or the summary's first
    sentence shortened to fit."""
    for candidate in candidates:
        if PREHEADER_MIN <= len(candidate) <= PREHEADER_LIMIT:
            return candidate
    fallback = [*candidates]
    first = re.split(r"(?<=[.!?])\s+", summary.strip())[0] if summary.strip() else ""
    if first and not (segment.sensitive and revealing_words(first, segment)):
        fallback.append(first)
    for candidate in fallback:
        if len(candidate) >= PREHEADER_MIN:
            return shorten(candidate, PREHEADER_LIMIT)
    return NEUTRAL_PREHEADER
