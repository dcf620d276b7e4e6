"""Turning parsed pieces into an Article: calls to action out of paragraphs, warnings for
pictures the text mentions but does not have, and the JSON document stored and printed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Literal
from urllib.parse import urljoin

from pipeline.article_document import content_hash
from pipeline.errors import ContentError
from pipeline.models import Article, Block, CallToAction, ParseWarning

from .links import (
    ClinicLinks,
    LinkSpan,
    is_safe,
    link_call_to_action,
    sentence_call_to_action,
)
from .text import count_words, sentences, summarise

_MISSING_PICTURE = re.compile(
    r"\b(?:picture|photo(?:graph)?|image|diagram|illustration|figure|drawing|video)s?\s+"
    r"(?:above|below)\b"
    r"|\b(?:above|below|following|attached)\s+(?:picture|photo(?:graph)?|image|diagram|"
    r"illustration|figure|drawing|video)s?\b"
    r"|\b(?:in|see)\s+(?:the|this)\s+(?:picture|photo(?:graph)?|image|diagram|illustration)\b"
    r"|\bpictured\s+(?:above|below|here)\b",
    re.I,
)


@dataclass
class Paragraph:
    """A paragraph as read from the source, before its calls to action come out. A line break
    in `text` ends a sentence; `breaks` are offsets where a new source line starts without one
    (a wrapped Markdown line), so a sentence's line can be told either way."""

    text: str
    line: int | None = None
    links: list[LinkSpan] = field(default_factory=list)
    breaks: list[int] = field(default_factory=list)


@dataclass
class Parts:
    """What a parser collects; `build_article` makes the Article from it."""

    slug: str
    title: str
    source_path: str | None
    source_kind: Literal["markdown", "text", "html", "feed"]
    summary: str = ""
    published: date | None = None
    tags: tuple[str, ...] = ()
    canonical_url: str | None = None
    hero_image: str | None = None
    hero_alt: str | None = None
    blocks: list[Block | Paragraph] = field(default_factory=list)
    ctas: list[CallToAction] = field(default_factory=list)
    warnings: list[ParseWarning] = field(default_factory=list)


def build_article(parts: Parts, links: ClinicLinks) -> Article:
    """The article: paragraphs split into prose and calls to action, every check applied."""
    has_images = bool(parts.hero_image) or any(
        isinstance(block, Block) and block.type == "image" for block in parts.blocks
    )
    blocks: list[Block] = []
    ctas = list(parts.ctas)
    warnings = list(parts.warnings)
    for block in parts.blocks:
        if isinstance(block, Paragraph):
            prose = _split_paragraph(block, parts, links, has_images, ctas, warnings)
            if prose:
                blocks.append(prose)
        elif block.type == "image" and block.src:
            # Emails need absolute addresses; a relative image lives on the clinic's website.
            blocks.append(replace(block, src=urljoin(links.website.rstrip("/") + "/", block.src)))
        else:
            blocks.append(block)
    if not any(block.type != "image" for block in blocks):
        raise ContentError(
            "the article has no text: write at least one paragraph", path=parts.source_path
        )
    if parts.hero_image and not parts.hero_alt:
        warnings.append(
            ParseWarning(None, "the hero image has no hero_alt: describe it for screen readers")
        )
    for block in blocks:
        if block.type == "image" and not block.alt:
            warnings.append(ParseWarning(block.line, f"image {block.src} has no alt text"))
    paragraphs = [block.text for block in blocks if block.type == "paragraph"]
    article = Article(
        slug=parts.slug,
        title=parts.title,
        summary=parts.summary or summarise(paragraphs),
        published=parts.published,
        tags=parts.tags,
        canonical_url=parts.canonical_url,
        hero_image=parts.hero_image,
        blocks=tuple(blocks),
        ctas=tuple(dict.fromkeys(ctas)),
        word_count=sum(count_words(block.text) for block in blocks if block.type != "image"),
        warnings=tuple(sorted(dict.fromkeys(warnings), key=lambda w: w.line or 0)),
        source_path=parts.source_path,
        source_kind=parts.source_kind,
        hero_alt=parts.hero_alt,
    )
    return replace(article, content_hash=content_hash(article))


def _split_paragraph(
    paragraph: Paragraph,
    parts: Parts,
    links: ClinicLinks,
    has_images: bool,
    ctas: list[CallToAction],
    warnings: list[ParseWarning],
) -> Block | None:
    """The paragraph's prose; sentences that are calls to action move to `ctas`."""
    kept: list[str] = []
    for offset, sentence in sentences(paragraph.text):
        line = _line_at(paragraph, offset)
        inside = [
            span for span in paragraph.links if offset <= span.start < offset + len(sentence) + 1
        ]
        for span in inside:
            if not is_safe(span.href):
                warnings.append(ParseWarning(line, f"the link {span.href!r} was left out: unsafe"))
        hrefs = [span.href for span in inside]
        cta, cta_warnings = sentence_call_to_action(sentence, hrefs, links, parts.slug, line)
        warnings.extend(cta_warnings)
        if cta:
            ctas.append(cta)
            continue
        for span in inside:
            if is_safe(span.href):
                link_text = paragraph.text[span.start : span.end]
                ctas.append(link_call_to_action(" ".join(link_text.split()), span.href, links))
        if not has_images and _MISSING_PICTURE.search(sentence):
            warnings.append(
                ParseWarning(
                    line,
                    f'"{_shorten(sentence)}" refers to a picture that is not in the article: '
                    "add the image or reword the sentence",
                )
            )
        kept.append(" ".join(sentence.split()))
    if not kept:
        return None
    return Block("paragraph", " ".join(kept), line=paragraph.line)


def _line_at(paragraph: Paragraph, offset: int) -> int | None:
    if paragraph.line is None:
        return None
    wrapped = sum(1 for start in paragraph.breaks if start <= offset)
    return paragraph.line + paragraph.text.count("\n", 0, offset) + wrapped


def _shorten(sentence: str, limit: int = 60) -> str:
    return sentence if len(sentence) <= limit else sentence[:limit].rsplit(" ", 1)[0] + " ..."
