"""An Article as the JSON document the store keeps and `content parse --json` prints, and back;
and the hash of what an article says. Below both the parsers and the store, so neither needs
the other to read or write an article."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import date
from typing import Any

from pipeline.errors import ContentError
from pipeline.models import Article, Block, CallToAction, ParseWarning

DOCUMENT_KEYS = (
    "slug",
    "title",
    "summary",
    "published",
    "tags",
    "canonical_url",
    "hero_image",
    "blocks",
    "ctas",
    "word_count",
    "warnings",
)


def article_document(article: Article) -> dict[str, Any]:
    """The article as the JSON object `content parse --json` prints and the store keeps."""
    return {
        "slug": article.slug,
        "title": article.title,
        "summary": article.summary,
        "published": article.published.isoformat() if article.published else None,
        "tags": list(article.tags),
        "canonical_url": article.canonical_url,
        "hero_image": article.hero_image,
        "blocks": [_block_document(block) for block in article.blocks],
        "ctas": [{"kind": cta.kind, "text": cta.text, "url": cta.url} for cta in article.ctas],
        "word_count": article.word_count,
        "warnings": [{"line": w.line, "message": w.message} for w in article.warnings],
    }


def _block_document(block: Block) -> dict[str, Any]:
    document: dict[str, Any] = {"type": block.type, "text": block.text}
    if block.type == "image":
        document.update(alt=block.alt, src=block.src)
    elif block.type == "heading":
        document["level"] = block.level
    elif block.type == "list":
        document["items"] = list(block.items)
    return document


def article_from_document(document: dict[str, Any]) -> Article:
    """The Article a document describes (the inverse of `article_document`)."""
    missing = [key for key in DOCUMENT_KEYS if key not in document]
    if missing:
        raise ContentError(f"an article document lacks {', '.join(missing)}")
    published = document["published"]
    article = Article(
        slug=document["slug"],
        title=document["title"],
        summary=document["summary"],
        published=date.fromisoformat(published) if published else None,
        tags=tuple(document["tags"]),
        canonical_url=document["canonical_url"],
        hero_image=document["hero_image"],
        blocks=tuple(
            Block(
                type=block["type"],
                text=block["text"],
                alt=block.get("alt"),
                src=block.get("src"),
                level=block.get("level"),
                items=tuple(block.get("items", ())),
            )
            for block in document["blocks"]
        ),
        ctas=tuple(CallToAction(cta["kind"], cta["text"], cta["url"]) for cta in document["ctas"]),
        word_count=document["word_count"],
        warnings=tuple(ParseWarning(w["line"], w["message"]) for w in document["warnings"]),
    )
    return replace(article, content_hash=content_hash(article))


def content_hash(article: Article) -> str:
    """sha256 of what the article says: its document and hero image text, not where it was read
    from, so re-importing unchanged copy is recognised as unchanged."""
    payload = {"document": article_document(article), "hero_alt": article.hero_alt}
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()
