"""Lists in messages people read, cut to a readable length: the first few items, then how many
more there are ("… and 999,950 more"), so a hostile file cannot blow up an error or a page."""

from __future__ import annotations

from collections.abc import Sequence

SHOWN_ITEMS = 10
MAX_ITEM_CHARS = 60
# A message as a whole (a flash, one error line) is cut past this many characters.
MAX_MESSAGE_CHARS = 500


def shorten(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` cut to about `limit` characters in its middle, saying how many were left out: the
    start says what was wrong, the end often what to do."""
    if len(text) <= limit:
        return text
    head, tail = limit * 2 // 3, limit // 3
    return f"{text[:head]}… ({len(text) - head - tail:,} characters left out) …{text[-tail:]}"


def summarise(
    items: Sequence[str], shown: int = SHOWN_ITEMS, item_chars: int = MAX_ITEM_CHARS
) -> str:
    """'a', 'b', 'c' … and N more: each item quoted and cut to `item_chars`."""
    quoted = [repr(shorten(item, item_chars)) for item in items[:shown]]
    hidden = len(items) - shown
    return ", ".join(quoted) + (f" … and {hidden:,} more" if hidden > 0 else "")
