"""An HTML page: the main content extracted (trafilatura), navigation and boilerplate dropped,
the markup sanitised (nh3) and read into blocks. Feed entries reuse `read_html_blocks`."""

from __future__ import annotations

import re
from datetime import date
from pathlib import PurePath
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html
import nh3
import trafilatura

from pipeline.errors import ContentError
from pipeline.models import Article, Block, CallToAction

from .assemble import Paragraph, Parts, build_article
from .links import (
    ClinicLinks,
    LinkSpan,
    is_safe,
    link_call_to_action,
    sentence_call_to_action,
)
from .text import clean_inline, normalise_characters, slugify

# Only the structure an article needs survives sanitising; everything else is unwrapped.
_ALLOWED_TAGS = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "br", "ul", "ol", "li", "blockquote", "img", "a",
    "em", "strong", "b", "i", "pre", "code", "div", "section", "article", "figure", "figcaption",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt"}}
_URL_SCHEMES = {"http", "https", "mailto", "tel"}
_CONTAINERS = {"div", "section", "article", "figure", "body", "main", "html", "header"}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


def sanitise(html: str) -> str:
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel=None,
    )


def parse_html_page(
    text: str, path: str, links: ClinicLinks, source_url: str | None = None
) -> Article:
    extracted = trafilatura.extract(
        text,
        url=source_url,
        output_format="html",
        include_images=True,
        include_links=True,
        include_comments=False,
        include_tables=False,
    )
    if not extracted:
        raise ContentError(
            "no article text found in the page: is it an article page, not a menu or an index?",
            path=path,
        )
    metadata = trafilatura.extract_metadata(text, default_url=source_url, extensive=False)
    page_url = source_url or metadata.url
    parts = Parts(
        slug=_slug_for(path, source_url),
        title=clean_inline(metadata.title or ""),
        source_path=path,
        source_kind="html",
        summary=clean_inline(metadata.description or ""),
        published=_date(metadata.date),
        tags=tuple(
            dict.fromkeys(
                clean_inline(tag) for tag in [*(metadata.categories or []), *(metadata.tags or [])]
            )
        ),
        canonical_url=metadata.url if metadata.url and metadata.url.startswith("http") else None,
        hero_image=urljoin(page_url or "", metadata.image) if metadata.image else None,
    )
    parts.ctas.extend(_main_content_ctas(text, links))
    read_html_blocks(sanitise(extracted), parts, page_url)
    if not parts.title:
        raise ContentError("no usable title: the page has no <title> or <h1>", path=path)
    if parts.hero_image and not parts.hero_alt:
        parts.hero_alt = parts.title
    return build_article(parts, links)


def _main_content_ctas(html: str, links: ClinicLinks) -> list[CallToAction]:
    """Calls to action in the page's main content. The extractor drops a paragraph that is
    nothing but a link as boilerplate, yet "Book online" on its own is what the clinic wants
    kept; plain links to elsewhere are left to the extracted text."""
    try:
        tree = lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return []
    mains = tree.xpath("//article | //main | //*[@role='main']")
    if not mains:
        return []
    ctas = []
    for anchor in mains[0].iter("a"):
        href = (anchor.get("href") or "").strip()
        label = clean_inline(anchor.text_content())
        if not href or not label or not is_safe(href):
            continue
        cta, _ = sentence_call_to_action(label, [href], links, "", None)
        cta = cta or link_call_to_action(label, href, links)
        if cta.kind != "link":
            ctas.append(cta)
    return ctas


def _slug_for(path: str, source_url: str | None) -> str:
    if source_url:
        segments = [segment for segment in urlsplit(source_url).path.split("/") if segment]
        if segments:
            return slugify(PurePath(segments[-1]).stem)
        return ""
    return slugify(PurePath(path).stem)


def _date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def read_html_blocks(html: str, parts: Parts, base_url: str | None) -> None:
    """Append the blocks of sanitised HTML to `parts`; the first h1 is the title when there is
    none yet, and dropped when it repeats the title."""
    if not html.strip():
        return
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    _walk(root, parts, base_url)


def _walk(element: lxml.html.HtmlElement, parts: Parts, base_url: str | None) -> None:
    loose = _InlineText(base_url)
    if element.text and element.text.strip():
        loose.add_text(element.text)
    for child in element:
        tag = child.tag if isinstance(child.tag, str) else ""
        if (
            tag in _CONTAINERS
            or tag in ("p", "blockquote", "ul", "ol", "pre", "img")
            or (tag in _HEADINGS)
        ):
            loose.flush_into(parts)
        if tag in _HEADINGS:
            text = clean_inline(child.text_content())
            if tag == "h1" and not parts.title:
                parts.title = text
            elif text and not (tag == "h1" and text.lower() == parts.title.lower()):
                parts.blocks.append(Block("heading", text, level=int(tag[1])))
        elif tag in ("p", "pre"):
            inline = _InlineText(base_url)
            inline.add_element(child, parts)
            inline.flush_into(parts)
        elif tag in ("ul", "ol"):
            items = tuple(
                text for item in child.iter("li") if (text := clean_inline(item.text_content()))
            )
            if items:
                parts.blocks.append(Block("list", "\n".join(items), items=items))
        elif tag == "blockquote":
            text = clean_inline(child.text_content())
            if text:
                parts.blocks.append(Block("quote", text))
        elif tag == "img":
            _add_image(child, parts, base_url)
        elif tag in _CONTAINERS:
            _walk(child, parts, base_url)
        else:
            loose.add_element(child, parts, with_tail=False)
        if child.tail and child.tail.strip():
            loose.add_text(child.tail)
    loose.flush_into(parts)


def _add_image(element: lxml.html.HtmlElement, parts: Parts, base_url: str | None) -> None:
    src = element.get("src", "").strip()
    if src:
        alt = clean_inline(element.get("alt", ""))
        parts.blocks.append(Block("image", alt, alt=alt or None, src=urljoin(base_url or "", src)))


class _InlineText:
    """Text and link spans collected from inline markup, whitespace collapsed as a browser
    would, so that span offsets match the paragraph's final text."""

    def __init__(self, base_url: str | None):
        self.base_url = base_url
        self.text = ""
        self.spans: list[LinkSpan] = []

    def add_text(self, piece: str) -> None:
        piece = re.sub(r"\s+", " ", normalise_characters(piece))
        if not self.text or self.text.endswith(" "):
            piece = piece.lstrip()
        self.text += piece

    def add_element(
        self, element: lxml.html.HtmlElement, parts: Parts, with_tail: bool = False
    ) -> None:
        if element.tag == "img":
            _add_image(element, parts, self.base_url)
        elif element.tag == "br":
            self.add_text(" ")
        else:
            start = len(self.text)
            if element.text:
                self.add_text(element.text)
            for child in element:
                if isinstance(child.tag, str):
                    self.add_element(child, parts, with_tail=True)
            href = element.get("href") if element.tag == "a" else None
            if href:
                # A page fetched from elsewhere links relative to itself, not to the clinic.
                target = urljoin(self.base_url, href) if self.base_url else href
                self.spans.append(LinkSpan(start, len(self.text.rstrip()), target))
        if with_tail and element.tail:
            self.add_text(element.tail)

    def flush_into(self, parts: Parts) -> None:
        if self.text.strip():
            text = self.text.rstrip()
            leading = len(text) - len(text.lstrip())
            spans = [
                LinkSpan(span.start - leading, span.end - leading, span.href) for span in self.spans
            ]
            parts.blocks.append(Paragraph(text.lstrip(), None, spans))
        self.text = ""
        self.spans = []
