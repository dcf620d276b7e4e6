"""What a health-sensitive segment's mail must not say where others can see it (subject,
preheader, headers, addresses): the words that reveal a condition, found in a text."""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

from pipeline.models import Segment

# Words that reveal a health condition in a subject, preheader, header or address.
CONDITION_WORDS = (
    "surgery",
    "surgical",
    "surgeon",
    "operation",
    "post-op",
    "post-operative",
    "injury",
    "injured",
    "diagnosis",
    "diagnosed",
)
# A sensitive segment's own topic phrases at or above this weight reveal it as much as its name.
REVEALING_TOPIC_WEIGHT = 3


@lru_cache(maxsize=64)
def phrase_pattern(phrase: str) -> re.Pattern[str]:
    words = [re.escape(word) for word in re.split(r"[\s_-]+", phrase.strip().lower()) if word]
    stem = r"[\s_-]?".join(words)
    # Plurals: "injuries" for "injury", "operations" for "operation".
    plural = stem[:-1] + "(?:y|ies)" if stem.endswith("y") else stem + "(?:e?s)?"
    return re.compile(r"(?<![a-z0-9])" + plural + r"(?![a-z0-9])", re.I)


def revealing_phrases(segment: Segment | None) -> tuple[str, ...]:
    """What a sensitive segment's mail must not say where others can see it: the generic
    condition words, its name and label, and its strongest topic phrases."""
    phrases = list(CONDITION_WORDS)
    if segment is not None and segment.sensitive:
        phrases += [segment.name, segment.label]
        phrases += [t.phrase for t in segment.topics if t.weight >= REVEALING_TOPIC_WEIGHT]
    return tuple(dict.fromkeys(phrases))


def revealing_words(text: str, segment: Segment | None = None) -> list[str]:
    """The revealing phrases found in `text` (see revealing_phrases), in the order listed."""
    flat = unquote(text).replace("+", " ")
    return [phrase for phrase in revealing_phrases(segment) if phrase_pattern(phrase).search(flat)]
