"""Reading an article source: a file of any supported kind, or a URL (a feed or a page), told
apart by extension, content type or the first bytes."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import httpx

from pipeline.errors import ContentError
from pipeline.extras import require
from pipeline.models import Article

from .links import ClinicLinks, KnownArticle
from .markdown import parse_markdown
from .plaintext import parse_plain_text
from .text import decode, refuse_empty

FETCH_TIMEOUT_SECONDS = 20.0
_USER_AGENT = "clinicmail (article import)"


def fetch(url: str, timeout: float = FETCH_TIMEOUT_SECONDS) -> tuple[bytes, str]:
    """The body and content type at `url`; a ContentError when it cannot be had."""
    try:
        response = httpx.get(
            url, timeout=timeout, follow_redirects=True, headers={"User-Agent": _USER_AGENT}
        )
    except httpx.TimeoutException:
        raise ContentError(f"{url} did not answer within {timeout:g} seconds") from None
    except httpx.HTTPError as error:
        raise ContentError(f"could not fetch {url}: {error}") from None
    if response.status_code >= 400:
        raise ContentError(f"{url} answered HTTP {response.status_code}: check the address")
    return response.content, response.headers.get("content-type", "")


KINDS_BY_SUFFIX = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".html": "html",
    ".htm": "html",
    ".xml": "feed",
    ".rss": "feed",
    ".atom": "feed",
}


def is_url(source: str) -> bool:
    return bool(re.match(r"^https?://", source, re.I))


def parse_path(path: Path, links: ClinicLinks, name: str | None = None) -> list[Article]:
    """The articles in a file (a feed gives several). `name` is how messages and the store
    name the file (default: the path as given)."""
    shown = name or str(path)
    if path.is_dir():
        raise ContentError("is a folder, not an article file", path=shown)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ContentError("no such file", path=shown) from None
    except OSError as error:
        raise ContentError(f"cannot be read: {error.strerror}", path=shown) from None
    kind = KINDS_BY_SUFFIX.get(path.suffix.lower())
    return parse_bytes(data, shown, links, kind)


def parse_source(
    source: str, links: ClinicLinks, timeout: float = FETCH_TIMEOUT_SECONDS
) -> list[Article]:
    """The articles at a URL (a feed or an article page, fetched) or in a file."""
    if not is_url(source):
        return parse_path(Path(source), links)
    data, content_type = fetch(source, timeout)
    kind = None
    if re.search(r"(rss|atom|xml)", content_type, re.I):
        kind = "feed"
    elif "html" in content_type.lower():
        kind = "html"
    return parse_bytes(data, source, links, kind, source_url=source)


def parse_bytes(
    data: bytes,
    name: str,
    links: ClinicLinks,
    kind: str | None = None,
    source_url: str | None = None,
) -> list[Article]:
    """The articles in `data`, read as `kind` (markdown, text, html, feed) or, when None, as
    its first bytes suggest. `name` is the file or URL that messages and the store name."""
    kind = kind or _sniff(data)
    if kind == "feed":
        # feedparser reads the feed's own encoding declaration, so only emptiness is checked.
        refuse_empty(data, name)
        return _reader("feed", "importing an RSS or Atom feed").parse_feed(data, name, links)
    text = decode(data, name)
    if kind == "html":
        page = _reader("html", "importing a web page")
        return [page.parse_html_page(text, name, links, source_url)]
    if kind == "markdown":
        return [parse_markdown(text, name, links)]
    return [parse_plain_text(text, name, links)]


def _reader(module: str, purpose: str) -> ModuleType:
    # Pages and feeds are read with the 'import' extra (trafilatura, lxml, feedparser), which
    # Markdown and plain text do not need: their modules are imported only when one is read.
    return require(f"pipeline.content.{module}", "import", purpose)


def _sniff(data: bytes) -> str:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<?xml") and re.search(rb"<(rss|feed|rdf:rdf)\b", data[:4096].lower()):
        return "feed"
    if head.startswith((b"<rss", b"<feed", b"<rdf:rdf")):
        return "feed"
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "html"
    if head.startswith(b"---"):
        return "markdown"
    return "text"


def known_article(article: Article, links: ClinicLinks) -> KnownArticle:
    return KnownArticle(
        slug=article.slug,
        title=article.title,
        url=links.article_url(article.slug, article.canonical_url),
        tags=article.tags,
    )
