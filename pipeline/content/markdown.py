"""The house format: Markdown with YAML front matter (python-frontmatter splits it, PyYAML
reads it with line numbers, markdown-it-py parses the body into blocks)."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import PurePath
from typing import Any
from urllib.parse import urljoin

import frontmatter
from markdown_it import MarkdownIt
from markdown_it.token import Token

from pipeline.errors import ContentError
from pipeline.models import Article, Block, ParseWarning
from pipeline.safe_yaml import YamlRefused, load_yaml

from .assemble import Paragraph, Parts, build_article
from .links import ClinicLinks, LinkSpan
from .text import clean_inline, normalise_characters, slugify

FRONT_MATTER_KEYS = (
    "title",
    "slug",
    "summary",
    "published",
    "tags",
    "canonical_url",
    "hero_image",
    "hero_alt",
)
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_markdown = MarkdownIt("commonmark")


def parse_markdown(text: str, path: str, links: ClinicLinks) -> Article:
    text = normalise_characters(text)
    meta, front_text, body, body_offset = _split_front_matter(text, path)
    parts = Parts(slug="", title="", source_path=path, source_kind="markdown")
    _read_front_matter(meta, front_text, path, parts, links)
    _read_body(body, body_offset, parts)
    if not parts.title:
        raise ContentError(
            "no usable title: add 'title: ...' to the front matter (or start the text with a "
            "'# Heading')",
            path=path,
            line=1,
        )
    if not parts.slug:
        parts.slug = slugify(PurePath(path).stem) or slugify(parts.title)
    return build_article(parts, links)


def _split_front_matter(text: str, path: str) -> tuple[dict[str, Any], str, str, int]:
    """(front matter, its YAML text, the body, lines before the body)."""
    handler = frontmatter.YAMLHandler()
    if not handler.detect(text):
        return {}, "", text, 0
    try:
        front_text, body = handler.split(text)
    except ValueError:
        raise ContentError(
            "the front matter opened by '---' is never closed: end it with a '---' line",
            path=path,
            line=1,
        ) from None
    try:
        meta = load_yaml(front_text)
    except YamlRefused as refused:
        raise ContentError(
            f"the front matter is not YAML ({refused.reason}): write it as 'key: value' lines",
            path=path,
            line=refused.opened_at or 1,
        ) from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise ContentError("the front matter is not YAML 'key: value' pairs", path=path, line=2)
    return meta, front_text, body, text.count("\n", 0, len(text) - len(body))


def _key_line(front_text: str, key: str) -> int:
    for number, line in enumerate(front_text.split("\n")):
        if re.match(rf"^{re.escape(key)}\s*:", line):
            return number + 1
    return 1


def _read_front_matter(
    meta: dict[str, Any], front_text: str, path: str, parts: Parts, links: ClinicLinks
) -> None:
    def fail(key: str, message: str) -> ContentError:
        return ContentError(f"{key} {message}", path=path, line=_key_line(front_text, key))

    def string(key: str) -> str | None:
        value = meta.get(key)
        if value is None:
            return None
        if isinstance(value, (dict, list)):
            raise fail(key, "must be text, not a list or mapping")
        return clean_inline(str(value)) or None

    for key in meta:
        if key not in FRONT_MATTER_KEYS:
            parts.warnings.append(
                ParseWarning(
                    _key_line(front_text, str(key)),
                    f"unknown front matter key {key!r} was ignored "
                    f"(known: {', '.join(FRONT_MATTER_KEYS)})",
                )
            )
    parts.title = string("title") or ""
    slug = string("slug")
    if slug is not None and not SLUG_PATTERN.match(slug):
        raise fail("slug", f"{slug!r} must be lower-case words joined by hyphens, like back-pain")
    parts.slug = slug or ""
    parts.summary = string("summary") or ""
    published = meta.get("published")
    if isinstance(published, datetime):
        parts.published = published.date()
    elif isinstance(published, date):
        parts.published = published
    elif published is not None:
        try:
            parts.published = date.fromisoformat(str(published).strip())
        except ValueError:
            raise fail("published", f"{published!r} is not a date like 2026-03-14") from None
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = tags.split(",")
    if not isinstance(tags, list) or any(isinstance(tag, (dict, list)) for tag in tags):
        raise fail("tags", "must be a list such as [back pain, sciatica]")
    parts.tags = tuple(dict.fromkeys(clean_inline(str(tag)) for tag in tags if str(tag).strip()))
    canonical = string("canonical_url")
    if canonical is not None and not re.match(r"^https?://[^\s/]+", canonical):
        raise fail("canonical_url", f"{canonical!r} must be an absolute http(s):// address")
    parts.canonical_url = canonical
    hero = string("hero_image")
    parts.hero_image = urljoin(links.website.rstrip("/") + "/", hero) if hero else None
    parts.hero_alt = string("hero_alt")


def _read_body(body: str, body_offset: int, parts: Parts) -> None:
    tokens = _markdown.parse(body)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        line = body_offset + token.map[0] + 1 if token.map else None
        if token.type == "heading_open":
            text = clean_inline(tokens[index + 1].content)
            level = int(token.tag[1])
            if level == 1 and not parts.title:
                parts.title = text
            elif not (level == 1 and text.lower() == parts.title.lower()):
                parts.blocks.append(Block("heading", text, level=level, line=line))
            index += 3
        elif token.type == "paragraph_open":
            _read_paragraph(tokens[index + 1], line, parts)
            index += 3
        elif token.type in ("bullet_list_open", "ordered_list_open", "blockquote_open"):
            end = _closing(tokens, index)
            texts = [
                clean_inline(_inline_text(inner)[0])
                for inner in tokens[index:end]
                if inner.type == "inline"
            ]
            texts = [text for text in texts if text]
            if token.type == "blockquote_open":
                parts.blocks.append(Block("quote", " ".join(texts), line=line))
            else:
                parts.blocks.append(Block("list", "\n".join(texts), items=tuple(texts), line=line))
            index = end + 1
        elif token.type in ("fence", "code_block"):
            if token.content.strip():
                parts.blocks.append(Block("paragraph", token.content.strip(), line=line))
            index += 1
        elif token.type == "html_block":
            parts.warnings.append(
                ParseWarning(line, "raw HTML was left out: write it as Markdown instead")
            )
            index += 1
        else:
            index += 1


def _closing(tokens: list[Token], start: int) -> int:
    """The index of the token that closes the one at `start`."""
    depth = 0
    for index in range(start, len(tokens)):
        depth += tokens[index].nesting
        if depth == 0:
            return index
    return len(tokens) - 1


def _read_paragraph(inline: Token, line: int | None, parts: Parts) -> None:
    text, spans, images, breaks = _inline_text(inline)
    if text.strip():
        parts.blocks.append(Paragraph(text, line, spans, breaks))
    for src, alt in images:
        parts.blocks.append(Block("image", alt, alt=alt or None, src=src, line=line))


def _inline_text(
    inline: Token,
) -> tuple[str, list[LinkSpan], list[tuple[str, str]], list[int]]:
    """A paragraph's plain text, the links in it, its images and where wrapped lines start."""
    text = ""
    breaks: list[int] = []
    spans: list[LinkSpan] = []
    images: list[tuple[str, str]] = []
    opened: list[tuple[int, str]] = []
    for child in inline.children or []:
        if child.type in ("text", "code_inline"):
            text += re.sub(r" {2,}", " ", child.content)
        elif child.type in ("softbreak", "hardbreak"):
            text += " "
            breaks.append(len(text))
        elif child.type == "link_open":
            opened.append((len(text), str(child.attrs.get("href", ""))))
        elif child.type == "link_close" and opened:
            start, href = opened.pop()
            spans.append(LinkSpan(start, len(text), href))
        elif child.type == "image":
            images.append((str(child.attrs.get("src", "")), clean_inline(child.content)))
    return text, spans, images, breaks
