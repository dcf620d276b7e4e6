"""Checks of a rendered variant before it is sent: size, links, images, leftover tokens, subject
and preheader, the legally required footer, and the health-data guardrails. Errors block
sending; warnings do not."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from ipaddress import ip_address
from typing import Literal
from urllib.parse import unquote, urlsplit

from pipeline.config import Settings
from pipeline.models import Finding, Recipient, RenderedVariant, Segment
from pipeline.render.message import personalise, recipient_values
from pipeline.segments.revealing import phrase_pattern, revealing_words

# Gmail clips a message whose HTML passes about 102 KB; stay under 100 KB.
HTML_LIMIT_BYTES = 100 * 1024
# Longer subjects are cut off in most inboxes; campaign files, derived subjects and the check
# all use this one limit.
SUBJECT_LIMIT = 78
# Backends that reach real inboxes: links there must work for clients, so a development
# public_url (http, or a loopback address) is an error for them and a warning otherwise.
REAL_BACKENDS = ("sendgrid", "smtp")
PREVIEW_NAME = "Alex"
PREVIEW_EMAIL = "preview@example.invalid"
_LEFTOVER = re.compile(r"__cm[0-9a-f]{24}_[a-z_]+__|\{\{|\}\}|\{%|%\}|\{#|<mj-", re.I)


class _Links(HTMLParser):
    """Every href and src in the HTML, and every image with its alt text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.images: list[tuple[str, str | None]] = []
        self.lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "html":
            self.lang = values.get("lang")
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        if tag == "img":
            self.images.append((values.get("src") or "", values.get("alt")))
            if values.get("src"):
                self.links.append(values["src"] or "")


def _naming(text: str, segment: Segment) -> list[str]:
    flat = unquote(text).replace("+", " ")
    return [name for name in (segment.name, segment.label) if phrase_pattern(name).search(flat)]


def _is_local_host(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in ("localhost", "") or host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified


def _link_problem(url: str) -> str | None:
    if url.startswith(("mailto:", "tel:")):
        return None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        return f"{url[:80]!r} is not an absolute https:// address"
    if _is_local_host(parts.hostname or ""):
        return f"{url[:80]!r} points at this machine or a private network"
    return None


def preview_recipient(settings: Settings) -> Recipient:
    values = recipient_values(settings, 0, PREVIEW_EMAIL, PREVIEW_NAME, 0)
    return Recipient(0, PREVIEW_EMAIL, values)


def check_rendered(
    settings: Settings, rendered: RenderedVariant, segment: Segment | None = None
) -> list[Finding]:
    """Every finding for one rendered variant, checked as a sample recipient would get it."""
    message = personalise(rendered, preview_recipient(settings), settings)
    found: list[Finding] = []

    def add(level: Literal["error", "warning"], check: str, text: str) -> None:
        found.append(Finding(rendered.segment, level, check, text))

    size = len(message.html.encode("utf-8"))
    if size > HTML_LIMIT_BYTES:
        add("error", "size", f"the HTML is {size / 1024:.0f} KB; Gmail clips messages over 100 KB")

    parser = _Links()
    parser.feed(message.html)
    personal = set(message.headers.values())
    token_urls = {
        value for key, value in preview_recipient(settings).values.items() if key.endswith("_url")
    }
    for url in dict.fromkeys(parser.links):
        if url in token_urls or url in personal:
            continue
        problem = _link_problem(url)
        if problem:
            add("error", "links", problem)
    public_problem = _link_problem(settings.web.public_url + "/")
    if public_problem:
        level: Literal["error", "warning"] = (
            "error" if settings.delivery.backend in REAL_BACKENDS else "warning"
        )
        add(
            level,
            "links",
            f"unsubscribe, preferences and view-online links use [web] public_url "
            f"{settings.web.public_url!r}, which clients cannot reach; set it (or "
            "CLINICMAIL_PUBLIC_URL) to the clinic's public https address before sending",
        )
    for src, alt in parser.images:
        if not (alt or "").strip():
            add("error", "images", f"image {src[:80]!r} has no alt text")
    if not parser.lang:
        add("warning", "accessibility", "the HTML does not declare its language (lang)")

    for part, text in (
        ("subject", message.subject),
        ("preheader", rendered.preheader),
        ("HTML", message.html),
        ("text", message.text),
    ):
        leftover = _LEFTOVER.search(text)
        if leftover:
            add("error", "tokens", f"the {part} still holds {leftover.group()!r}")

    if not 1 <= len(message.subject) <= SUBJECT_LIMIT:
        add(
            "error",
            "subject",
            f"the subject is {len(message.subject)} characters; give it 1 to {SUBJECT_LIMIT}",
        )
    if not rendered.preheader.strip():
        add("error", "preheader", "there is no preheader (the preview line inboxes show)")

    address = settings.clinic.postal_address
    for part, text in (("HTML", message.html), ("text", message.text)):
        if address not in text and _html_text(address) not in text:
            add("error", "footer", f"the {part} part lacks the clinic's postal address")
        if message.headers and not any(url in text for url in _unsubscribe_forms(message.headers)):
            add("error", "footer", f"the {part} part has no unsubscribe link")

    if segment is not None and segment.sensitive:
        found.extend(_guardrails(rendered, segment, message.headers, parser.links))
    return found


def _html_text(text: str) -> str:
    return text.replace("&", "&amp;")


def _unsubscribe_forms(headers: Mapping[str, str]) -> Iterable[str]:
    first = headers.get("List-Unsubscribe", "").split(",")[0].strip().strip("<>")
    return [first, first.replace("&", "&amp;")] if first else []


def _guardrails(
    rendered: RenderedVariant,
    segment: Segment,
    headers: Mapping[str, str],
    links: Iterable[str],
) -> list[Finding]:
    """A health-sensitive segment: nothing visible outside the body may name it or reveal a
    condition (inbox lists, notifications, mail logs and shared screens show these)."""
    found = []
    for part, text in (("subject", rendered.subject), ("preheader", rendered.preheader)):
        words = revealing_words(text, segment)
        if words:
            found.append(
                Finding(
                    segment.name,
                    "error",
                    "guardrails",
                    f"the {part} of a health-sensitive segment's email reveals a condition or "
                    f"the segment ({', '.join(repr(w) for w in words)}); reword it in the "
                    "campaign file's overrides",
                )
            )
    for name, value in headers.items():
        if name.lower() == "list-unsubscribe":
            continue
        words = revealing_words(value, segment)
        if words:
            found.append(
                Finding(
                    segment.name,
                    "error",
                    "guardrails",
                    f"the {name} header reveals {', '.join(repr(w) for w in words)}; "
                    "choose a campaign slug that does not",
                )
            )
    for url in dict.fromkeys(links):
        parts = urlsplit(url)
        named = _naming(url, segment)
        in_query = revealing_words(parts.query, segment)
        if named or in_query:
            found.append(
                Finding(
                    segment.name,
                    "error",
                    "guardrails",
                    f"link {url[:100]!r} names {', '.join(repr(w) for w in named + in_query)}; "
                    "tracking parameters must use the segment's code, not its name",
                )
            )
        elif revealing_words(parts.path, segment):
            found.append(
                Finding(
                    segment.name,
                    "warning",
                    "guardrails",
                    f"link {url[:100]!r} reveals a condition in its address "
                    f"({', '.join(revealing_words(parts.path, segment))})",
                )
            )
    return found
