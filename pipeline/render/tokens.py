"""Per-recipient tokens: nonce placeholders written into a variant once at render time, filled
for each recipient at send time (HTML-escaped in the HTML part, as they are in the text part)."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable, Mapping
from functools import lru_cache

# The values a recipient brings to a message; templates reach them as `{{ token.<name> }}`.
TOKEN_NAMES: tuple[str, ...] = ("first_name", "unsubscribe_url", "preferences_url", "view_url")


def new_placeholders() -> dict[str, str]:
    """One placeholder per token, carrying a nonce made now. Article text was written before the
    nonce existed, so nothing in it can ever be mistaken for a token."""
    nonce = secrets.token_hex(12)
    # Letters, digits and underscores only: Jinja's escaping, mrml and URL handling leave them as
    # they are, so the placeholder reaches the compiled HTML unchanged.
    return {name: f"__cm{nonce}_{name}__" for name in TOKEN_NAMES}


@lru_cache(maxsize=256)
def _fill_plan(
    text: str, placeholders: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`text` cut at its placeholders: the literal pieces, and the token name between each pair.

    Computed once per rendered part (the part's string hashes once and is then found by
    identity), so filling a recipient is a join, not a search through the whole message."""
    name_of = {placeholder: name for name, placeholder in placeholders}
    if not name_of:
        return (text,), ()
    pattern = re.compile("|".join(re.escape(placeholder) for placeholder in name_of))
    literals: list[str] = []
    names: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        literals.append(text[position : match.start()])
        names.append(name_of[match.group()])
        position = match.end()
    literals.append(text[position:])
    return tuple(literals), tuple(names)


def _as_is(value: str) -> str:
    return value


def _html_escape(value: str) -> str:
    return html.escape(value, quote=True)


def fill_tokens(
    text: str,
    placeholders: Mapping[str, str],
    values: Mapping[str, str],
    *,
    escape: Callable[[str], str] = _as_is,
) -> str:
    """`text` with each placeholder replaced by its recipient's value, passed through `escape`.

    The values are inserted once, after all templating: a value such as `{{ x }}` or `<script>`
    is only ever text (escaped for HTML by `fill_html`)."""
    literals, names = _fill_plan(text, tuple(sorted(placeholders.items())))
    if not names:
        return text
    parts = [literals[0]]
    for name, literal in zip(names, literals[1:], strict=True):
        try:
            value = values[name]
        except KeyError:
            raise ValueError(f"no value for the recipient token {name!r}") from None
        parts.append(escape(value))
        parts.append(literal)
    return "".join(parts)


def fill_html(text: str, placeholders: Mapping[str, str], values: Mapping[str, str]) -> str:
    return fill_tokens(text, placeholders, values, escape=_html_escape)
