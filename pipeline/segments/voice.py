"""A segment's voice in campaigns/segments.yaml (angle; subject, preheader, intro and call-to-action
patterns), validated with file and line; see docs/segment-copy.md."""

from __future__ import annotations

import re
from collections.abc import Callable
from string import Formatter
from typing import Any, Protocol, Self

from pipeline.errors import SpecError
from pipeline.models import SegmentVoice

VOICE_KEYS = ("angle", "subject", "preheader", "intro", "cta")
PLACEHOLDERS = ("title", "phrase", "clinic", "angle")
# Parts a health-sensitive segment's patterns may not fill with its best phrase: they show in
# inbox lists and notifications, and the phrase is one of the segment's own topics.
VISIBLE_PARTS = ("subject", "preheader")

# The voice of a segment whose definition has none.
DEFAULT_VOICE = SegmentVoice(
    angle="feeling well",
    subject=("{title}",),
    preheader=("A few minutes' reading from our therapists, with ideas you can use this week.",),
    intro=("Here is something from our therapists that we think you will find useful.",),
    cta=("Read the full article",),
)
# A health-sensitive segment without a voice of its own: nothing that hints at why it exists.
DISCREET_VOICE = SegmentVoice(
    angle="moving with confidence",
    subject=("{title}", "New from the {clinic} team"),
    preheader=("Practical advice from our therapists, with a link to book when it suits you.",),
    intro=("We thought this would be useful to you, whenever you have a quiet moment.",),
    cta=("Read the full article",),
)


class _Where(Protocol):
    """A place in segments.yaml that an error names (the loader's, which sits above this)."""

    line: int | None

    def at(self, key: str, line: int | None) -> Self: ...

    def error(self, message: str) -> SpecError: ...


def placeholders(pattern: str) -> list[str]:
    """The names in a pattern's {braces}; raises ValueError for a pattern that does not parse."""
    return [name for _, name, _, _ in Formatter().parse(pattern) if name is not None]


def parse_voice(
    value: Any, where: _Where, *, sensitive: bool, reveals: Callable[[str], list[str]]
) -> SegmentVoice:
    """`reveals` gives the condition words a text names (for a health-sensitive segment)."""
    if not isinstance(value, dict):
        raise where.error(f"voice is a mapping of {', '.join(VOICE_KEYS)}")
    for key in value:
        if key not in VOICE_KEYS:
            raise where.at(str(key), value.lines[key]).error(
                f"unknown key (use {', '.join(VOICE_KEYS)})"
            )
    missing = [key for key in VOICE_KEYS if key not in value]
    if missing:
        raise where.error(f"voice needs {', '.join(missing)}")
    angle = value["angle"]
    if not isinstance(angle, str) or not angle.strip():
        raise where.at("angle", value.lines["angle"]).error("must be a non-empty text")
    patterns = {
        key: _patterns(
            value[key], where.at(key, value.lines[key]), key, sensitive=sensitive, reveals=reveals
        )
        for key in VOICE_KEYS
        if key != "angle"
    }
    return SegmentVoice(angle=" ".join(angle.split()), **patterns)


def _patterns(
    value: Any,
    where: _Where,
    key: str,
    *,
    sensitive: bool,
    reveals: Callable[[str], list[str]],
) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    lines = getattr(value, "lines", [where.line] * len(items))
    if not items:
        raise where.error("give a text or a non-empty list of texts")
    found = []
    for index, item in enumerate(items):
        here = where.at(f"[{index}]", lines[index]) if isinstance(value, list) else where
        if not isinstance(item, str) or not item.strip():
            raise here.error("a pattern is a non-empty text")
        try:
            names = placeholders(item)
        except ValueError as error:
            raise here.error(f"{error}; write a brace as {{{{ or }}}}") from None
        unknown = [name for name in names if name not in PLACEHOLDERS]
        if unknown:
            raise here.error(
                f"unknown placeholder {{{unknown[0]}}} (use "
                + ", ".join("{" + name + "}" for name in PLACEHOLDERS)
                + ")"
            )
        if sensitive and key in VISIBLE_PARTS and "phrase" in names:
            raise here.error(
                "a health-sensitive segment's subject and preheader may not use {phrase}: "
                "its phrases are its topics, and inboxes show these parts to anyone nearby"
            )
        named = reveals(literal_text(item)) if sensitive else []
        if named:
            raise here.error(
                f"a health-sensitive segment's pattern names {', '.join(map(repr, named))}; "
                "word it so that it reveals no condition"
            )
        found.append(" ".join(item.split()))
    return tuple(found)


def literal_text(pattern: str) -> str:
    """The pattern's own words, placeholders left out (what a guardrail can judge in advance)."""
    return re.sub(r"\{[a-z]+\}", " ", pattern)
