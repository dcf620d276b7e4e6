"""One way to compare web addresses: a clicked link and the clinic's booking page are the same
address when they differ only in HTML escaping, host case, a trailing slash, UTM parameters
or an explicit default port."""

from __future__ import annotations

import html
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


@lru_cache(maxsize=4096)
def normalise_url(url: str) -> str:
    """The address `url` leads to, in one spelling: HTML entities unescaped (links taken from
    HTML keep `&amp;`), scheme and host lower-cased, a default port dropped, a trailing slash
    dropped (the root stays "/"), utm_* parameters dropped and the rest sorted, no fragment.
    A value that cannot be split as a URL comes back unescaped and stripped."""
    text = html.unescape(url.strip())
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    if parts.username is not None:
        credentials = parts.username + (f":{parts.password}" if parts.password else "")
        host = f"{credentials}@{host}"
    query = sorted(
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if not key.lower().startswith("utm_")
    )
    return urlunsplit((scheme, host, parts.path.rstrip("/") or "/", urlencode(query), ""))


def same_address(url: str | None, other: str | None) -> bool:
    """Whether two addresses lead to the same page (see normalise_url)."""
    if not url or not other:
        return False
    return normalise_url(url) == normalise_url(other)
