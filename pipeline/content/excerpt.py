"""Excerpts that stand alone: no paragraph opens mid-thought ("So do I have you convinced?")
pointing back at text the email does not carry, and no sentence is read twice in one email."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from .text import sentences

# Openings that lean on what came before. A paragraph that starts with one brings in the
# paragraph before it, or starts at its first sentence that does not.
BACK_REFERENCES = (
    "after all",
    "again",
    "all of this",
    "all this",
    "also",
    "and",
    "anyway",
    "as a result",
    "as such",
    "because of this",
    "besides",
    "but",
    "even so",
    "for this reason",
    "furthermore",
    "hence",
    "however",
    "in addition",
    "in short",
    "instead",
    "just remember",
    "likewise",
    "meanwhile",
    "moreover",
    "on the other hand",
    "otherwise",
    "plus",
    "remember",
    "similarly",
    "so",
    "still",
    "that",
    "that's why",
    "then",
    "therefore",
    "these",
    "they",
    "this",
    "those",
    "thus",
    "which",
    "yet",
)
_OPENING = re.compile(
    r"^[\s\"'“‘(]*(?:"
    + "|".join(re.escape(phrase) for phrase in sorted(BACK_REFERENCES, key=len, reverse=True))
    + r")(?![\w'’-])",
    re.I,
)


def opens_with_back_reference(text: str) -> bool:
    return bool(_OPENING.match(text.replace("’", "'")))


def _word_count(text: str) -> int:
    return len(text.split())


def standalone_excerpt(
    paragraphs: Sequence[str], ranked: Sequence[int], budget: int
) -> tuple[str, ...]:
    """The ranked paragraphs, best first, that fit in `budget` words, in article order. One
    that opens with a back-reference comes joined to the paragraph(s) it leans on when they
    fit too, else from its first self-contained sentence; the best one is kept even alone,
    cut to whole sentences within the budget."""
    chosen: dict[int, str] = {}
    words = 0
    for index in ranked:
        if index in chosen:
            continue
        unit = _unit(paragraphs, index, chosen, budget - words)
        if unit is None:
            continue
        added = sum(_word_count(text) for text in unit.values())
        if not chosen and added > budget:
            first = min(unit)
            unit = {first: _within(" ".join(unit[i] for i in sorted(unit)), budget)}
            added = _word_count(unit[first])
        elif chosen and added > budget - words:
            continue
        chosen.update(unit)
        words += added
    return _joined(chosen)


def _unit(
    paragraphs: Sequence[str], index: int, chosen: dict[int, str], room: int
) -> dict[int, str] | None:
    """Paragraph `index` and what it needs to stand alone: the paragraphs before it that it
    leans on (when they fit in `room`), else itself from its first self-contained sentence."""
    text = paragraphs[index]
    if index == 0 or not opens_with_back_reference(text):
        return {index: text}
    chain = [index]
    start = index - 1
    while start >= 0 and start not in chosen:
        chain.insert(0, start)
        if start == 0 or not opens_with_back_reference(paragraphs[start]):
            break
        start -= 1
    # The chain now starts at a paragraph that stands alone, or right after a chosen one.
    whole = {i: paragraphs[i] for i in chain}
    if sum(_word_count(text) for text in whole.values()) <= room:
        return whole
    trimmed = _trimmed(paragraphs, index)
    # Nothing chosen yet: the best paragraph is kept, with what it leans on, cut by the caller.
    return whole if trimmed is None and not chosen else trimmed


def _trimmed(paragraphs: Sequence[str], index: int) -> dict[int, str] | None:
    rest = _from_self_contained(paragraphs[index]) if index else paragraphs[index]
    return {index: rest} if rest else None


def _from_self_contained(text: str) -> str:
    """`text` from its first sentence that does not open with a back-reference."""
    parts = [sentence for _, sentence in sentences(text)]
    while parts and opens_with_back_reference(parts[0]):
        parts.pop(0)
    return " ".join(parts)


def _within(text: str, budget: int) -> str:
    """Whole sentences of `text` within `budget` words (at least the first)."""
    kept: list[str] = []
    for _, sentence in sentences(text):
        if kept and _word_count(" ".join([*kept, sentence])) > budget:
            break
        kept.append(sentence)
    return " ".join(kept)


def _joined(chosen: dict[int, str]) -> tuple[str, ...]:
    """The chosen paragraphs in article order; one that leans on the paragraph before it is
    joined to it, so no paragraph of the excerpt opens with a back-reference."""
    joined: list[str] = []
    previous = None
    for index in sorted(chosen):
        text = chosen[index]
        if joined and previous == index - 1 and opens_with_back_reference(text):
            joined[-1] = f"{joined[-1]} {text}"
        else:
            joined.append(text)
        previous = index
    return tuple(joined)


def _key(sentence: str) -> str:
    return " ".join(re.findall(r"\w+", sentence.lower().replace("’", "'")))


def sentence_keys(texts: Iterable[str]) -> set[str]:
    """The sentences of `texts`, compared without case, punctuation or spacing."""
    return {_key(sentence) for text in texts for _, sentence in sentences(text) if _key(sentence)}


def without_repeats(excerpt: Sequence[str], others: Iterable[str]) -> tuple[str, ...]:
    """The excerpt without any sentence already read in `others` (the preheader and intro) or
    earlier in the excerpt. A paragraph that loses its opening starts again at its first
    self-contained sentence; one left empty goes."""
    seen = sentence_keys(others)
    kept: list[str] = []
    for paragraph in excerpt:
        parts = [sentence for _, sentence in sentences(paragraph)]
        fresh = [sentence for sentence in parts if _key(sentence) not in seen]
        seen.update(_key(sentence) for sentence in parts)
        if len(fresh) == len(parts):
            kept.append(paragraph)
            continue
        text = _from_self_contained(" ".join(fresh))
        if text:
            kept.append(text)
    return tuple(kept)
