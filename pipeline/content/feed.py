"""RSS and Atom feeds (feedparser): one article per entry, its HTML sanitised and read into
blocks like a page's."""

from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit

import feedparser

from pipeline.errors import ContentError
from pipeline.models import Article, ParseWarning

from .assemble import Paragraph, Parts, build_article
from .html import read_html_blocks, sanitise
from .links import ClinicLinks
from .text import clean_inline, normalise, sentences, slugify


def parse_feed(data: bytes, path: str, links: ClinicLinks) -> list[Article]:
    parsed = feedparser.parse(data, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.entries:
        if parsed.bozo:
            problem = str(parsed.get("bozo_exception", "")).split("\n")[0]
            raise ContentError(f"not an RSS or Atom feed ({problem})", path=path)
        raise ContentError("the feed has no entries", path=path)
    articles: list[Article] = []
    slugs: set[str] = set()
    for number, entry in enumerate(parsed.entries, start=1):
        try:
            article = _entry_article(entry, path, links)
        except ContentError as error:
            raise ContentError(f"entry {number}: {error.detail}", path=path) from None
        # Entries with the same address are the same post; a feed lists the newest first.
        if article.slug not in slugs:
            slugs.add(article.slug)
            articles.append(article)
    return articles


def _entry_tags(entry) -> tuple[str, ...]:
    terms = (clean_inline(tag.get("term") or "") for tag in entry.get("tags", []))
    return tuple(dict.fromkeys(term for term in terms if term))


def _entry_article(entry, path: str, links: ClinicLinks) -> Article:
    link = entry.get("link") or None
    body, body_type = _entry_body(entry)
    parts = Parts(
        slug="",
        title=clean_inline(_plain(entry.get("title", ""))),
        source_path=path,
        source_kind="feed",
        published=_entry_date(entry),
        tags=_entry_tags(entry),
        canonical_url=link if link and link.startswith("http") else None,
        hero_image=_entry_image(entry),
    )
    if body_type == "html":
        read_html_blocks(sanitise(body), parts, link)
    else:
        for paragraph in re.split(r"\n\s*\n", normalise(body)):
            if paragraph.strip():
                parts.blocks.append(Paragraph(paragraph.strip(), None))
    summary = entry.get("summary")
    if summary and entry.get("content"):
        parts.summary = clean_inline(_plain(summary))
    if not parts.title:
        prose = [block.text for block in parts.blocks if isinstance(block, Paragraph)]
        if not prose:
            raise ContentError("the entry has neither a title nor any text")
        parts.title = next(sentences(prose[0]))[1][:100]
        parts.warnings.append(
            ParseWarning(None, "the entry has no title: its first sentence was used")
        )
    parts.slug = _entry_slug(link, parts.title)
    if parts.hero_image and not parts.hero_alt:
        parts.hero_alt = parts.title
    return build_article(parts, links)


def _entry_body(entry) -> tuple[str, str]:
    for content in entry.get("content", []):
        if content.get("value", "").strip():
            kind = "text" if content.get("type") == "text/plain" else "html"
            return content["value"], kind
    detail = entry.get("summary_detail") or {}
    kind = "text" if detail.get("type") == "text/plain" else "html"
    return entry.get("summary", ""), kind


def _plain(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", sanitise(html)) if "<" in html else html


def _entry_date(entry) -> date | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday) if parsed else None


def _entry_image(entry) -> str | None:
    for media in (*entry.get("media_content", []), *entry.get("media_thumbnail", [])):
        if media.get("url", "").startswith("http"):
            return media["url"]
    for enclosure in entry.get("enclosures", []):
        if enclosure.get("type", "").startswith("image/") and enclosure.get("href"):
            return enclosure["href"]
    return None


def _entry_slug(link: str | None, title: str) -> str:
    if link:
        segments = [segment for segment in urlsplit(link).path.split("/") if segment]
        if segments:
            slug = slugify(re.sub(r"\.[a-z]+$", "", segments[-1]))
            if slug:
                return slug
    return slugify(title)
