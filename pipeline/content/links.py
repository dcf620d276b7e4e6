"""Calls to action: the clinic's links, recognising booking, read-more and article-reference
sentences in copy that carries no URL, and classifying the links that copy does carry."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from rapidfuzz import fuzz

from pipeline.models import CallToAction, CtaKind, ParseWarning

from .text import words

if TYPE_CHECKING:
    from pipeline.config import Settings

# Words that say nothing about which article a reference means.
_STOPWORDS = frozenset({
    "a", "about", "an", "and", "are", "at", "be", "can", "do", "does", "for", "from", "how", "i",
    "in", "is", "it", "me", "more", "my", "of", "on", "or", "our", "than", "the", "this", "to",
    "what", "when", "where", "which", "who", "why", "with", "you", "your",
})  # fmt: skip
_ARTICLE_REF = re.compile(
    r"^(?:[^,.!?]{1,80},\s*)?"
    r"(?:please\s+|do\s+|you\s+can\s+|you\s+(?:might|may)\s+(?:also\s+)?(?:like\s+to\s+)?)?"
    r"(?:check\s+out|read|see|have\s+a\s+look\s+at|take\s+a\s+look\s+at|look\s+at|enjoy)\s+"
    r"(?:my|our|the|this)\s+(?:previous\s+|earlier\s+|other\s+|recent\s+|related\s+)?"
    r"(?:article|post|blog\s+post|blog|piece|guide)\s+(?:on|about|called|titled|explaining)\s+"
    r"(?P<topic>.+?)[\s.!:]*$",
    re.I,
)
_READ_MORE = re.compile(
    r"^(?:(?:please\s+|you\s+can\s+|click\s+here\s+to\s+)?(?:read|find\s+out|learn|discover|see)"
    r"\s+more\b|more\s+about\b|more\s+information\b)",
    re.I,
)
# A booking call is an imperative to book ("Book your massage today.", "Make an appointment
# online HERE.", "To book, call reception."), possibly after a leading clause; a sentence that
# merely mentions booking ("see your GP before booking") is prose.
_BOOKING = re.compile(
    r"^(?:[^,.!?]{1,80},\s*)?"
    r"(?:please\s+|just\s+|simply\s+|why\s+not\s+|so\s+|then\s+|you\s+can\s+)?"
    r"(?:(?:click|tap)\s+here\s+to\s+|call\s+us\s+to\s+|get\s+in\s+touch\s+to\s+)?"
    r"(?:book\b|to\s+book\b|(?:make|schedule|arrange|request)\s+(?:an?\s+|your\s+)?(?:\w+\s+)?"
    r"(?:appointment|booking|session)s?\b)",
    re.I,
)
_MAX_CTA_WORDS = 25
_CLAUSE_END = re.compile(r",|;|\s+(?:if|when|because|as|so)\s+", re.I)
# What people add after naming the article: "... on Sciatica for more info on that", "... here".
_TRAILING_FILLER = re.compile(
    r"(?:\s+(?:for\s+(?:more|further)\s+(?:info(?:rmation)?|details|on\s+(?:that|this))"
    r"|on\s+(?:that|this)(?:\s+(?:topic|subject))?|about\s+(?:that|this)|here|there|too|as\s+well"
    r"|below|above|first|if\s+you(?:'re|\s+are)\s+interested|to\s+learn\s+more|now|today))+"
    r"[\s.!:]*$",
    re.I,
)
# A reference's score against an article's title, slug and tags (rapidfuzz, 0-100) from which
# it counts as naming that article.
_REFERENCE_SCORE = 75
_SAFE_SCHEMES = ("http", "https", "mailto", "tel")
_ARTICLE_PATH = re.compile(r"(?:^|/)(?:articles?|blog|posts?)/(?P<slug>[a-z0-9-]+)/?$")
_ARTICLE_FILE = re.compile(r"^(?:\./)?(?:content/)?(?P<slug>[A-Za-z0-9_-]+)\.(?:md|markdown|txt)$")


@dataclass(frozen=True)
class KnownArticle:
    """An article a reference can point at: its slug, title, tags and public URL."""

    slug: str
    title: str
    url: str
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClinicLinks:
    """Where calls to action lead: the clinic's website and booking page, and the articles an
    "article on ..." reference may resolve to."""

    website: str
    booking_url: str
    articles: tuple[KnownArticle, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> ClinicLinks:
        return cls(website=settings.clinic.website, booking_url=settings.clinic.booking_url)

    def with_articles(self, articles: Iterable[KnownArticle]) -> ClinicLinks:
        by_slug = {article.slug: article for article in (*self.articles, *articles)}
        return replace(self, articles=tuple(by_slug.values()))

    @cached_property
    def _articles_by_page(self) -> dict[tuple[str, str], KnownArticle]:
        return {_page_key(article.url): article for article in self.articles}

    @cached_property
    def _articles_by_slug(self) -> dict[str, KnownArticle]:
        return {article.slug: article for article in self.articles}

    @cached_property
    def vocabularies(self) -> tuple[tuple[KnownArticle, frozenset[str]], ...]:
        """Each known article with the stems of the words of its title, slug and tags."""
        return tuple(
            (
                article,
                frozenset(
                    map(_stem, words(f"{article.title} {article.slug} {' '.join(article.tags)}"))
                ),
            )
            for article in self.articles
        )

    def article_by_url(self, url: str) -> KnownArticle | None:
        return self._articles_by_page.get(_page_key(url))

    def article_by_slug(self, slug: str) -> KnownArticle | None:
        return self._articles_by_slug.get(slug)

    def article_url(self, slug: str, canonical_url: str | None = None) -> str:
        """An article's public address: its canonical URL, else a page under the website."""
        return canonical_url or f"{self.website.rstrip('/')}/articles/{slug}"


@dataclass(frozen=True)
class LinkSpan:
    """A link inside a paragraph's text: characters [start, end) carry `href`."""

    start: int
    end: int
    href: str


def sentence_call_to_action(
    sentence: str, hrefs: Sequence[str], links: ClinicLinks, own_slug: str, line: int | None
) -> tuple[CallToAction | None, list[ParseWarning]]:
    """The call to action a whole sentence makes, if it makes one, bound to a URL: the link it
    carries, else the booking page, the website or the article it names."""
    if len(words(sentence)) > _MAX_CTA_WORDS:
        return None, []
    text = sentence.strip().rstrip(".!:;").strip()
    url = next((resolve_href(href, links) for href in hrefs if is_safe(href)), None)
    reference = _ARTICLE_REF.match(sentence)
    if reference:
        if url:
            return CallToAction("article_ref", text, url), []
        article = resolve_article(reference["topic"], links, own_slug)
        if article:
            return CallToAction("article_ref", text, article.url), []
        warning = ParseWarning(
            line,
            f"no article matches the reference {trim_reference(reference['topic'])!r}; it links to "
            "the website: add that article or name it as its title reads",
        )
        return CallToAction("article_ref", text, links.website), [warning]
    if _READ_MORE.match(sentence):
        return CallToAction("read_more", text, url or links.website), []
    if _BOOKING.match(sentence):
        return CallToAction("booking", text, url or links.booking_url), []
    return None, []


def link_call_to_action(text: str, href: str, links: ClinicLinks) -> CallToAction:
    """A link inside prose, kept in the prose and listed as a call to action of its kind."""
    url = absolute(href, links)
    kind: CtaKind = "link"
    if _same_page(url, links.booking_url):
        kind = "booking"
    else:
        article = linked_article(href, links)
        if article:
            kind, url = "article_ref", article.url
        elif _READ_MORE.match(text):
            kind = "read_more"
    return CallToAction(kind, text.strip() or url, url)


def linked_article(href: str, links: ClinicLinks) -> KnownArticle | None:
    """The known article a link points at: its URL, its file (`sciatica.md`) or its path."""
    article = links.article_by_url(absolute(href, links))
    if article:
        return article
    match = _ARTICLE_FILE.match(href) or _ARTICLE_PATH.search(urlsplit(href).path)
    if match and (not urlsplit(href).netloc or _same_site(href, links.website)):
        return links.article_by_slug(match["slug"])
    return None


def resolve_article(topic: str, links: ClinicLinks, own_slug: str) -> KnownArticle | None:
    """The known article that best fits `topic`: filler after the name ("for more info on
    that") trimmed, the rest scored against each article's title, slug and tags (words
    compared by stem, so "sciatica" finds "sciatic"); the best score from _REFERENCE_SCORE
    wins."""
    topic = trim_reference(topic)
    wanted = [_stem(word) for word in words(topic) if word not in _STOPWORDS]
    if not wanted:
        return None
    query = " ".join(wanted)
    best: tuple[float, KnownArticle] | None = None
    for article, vocabulary in links.vocabularies:
        if article.slug == own_slug:
            continue
        share = len(set(wanted) & vocabulary) / len(set(wanted))
        names = [article.title, article.slug.replace("-", " "), *article.tags]
        closeness = max(
            fuzz.token_set_ratio(
                query, " ".join(_stem(w) for w in words(name) if w not in _STOPWORDS)
            )
            for name in names
        )
        score = max(closeness, 100 * share)
        if score >= _REFERENCE_SCORE and (best is None or score > best[0]):
            best = (score, article)
    return best[1] if best else None


def trim_reference(topic: str) -> str:
    """The article a reference names, without the clause after it or trailing filler."""
    topic = _CLAUSE_END.split(topic, maxsplit=1)[0]
    return _TRAILING_FILLER.sub("", topic).strip()


def _stem(word: str) -> str:
    """A crude English stem that is enough to match a reference to a title: no plural "s",
    at most five letters ("sciatica" and "sciatic" both give "sciat")."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:5]


def is_call_to_action(sentence: str) -> bool:
    """Whether a sentence reads as a call to action, without binding it to a URL."""
    return len(words(sentence)) <= _MAX_CTA_WORDS and bool(
        _ARTICLE_REF.match(sentence) or _READ_MORE.match(sentence) or _BOOKING.match(sentence)
    )


def resolve_href(href: str, links: ClinicLinks) -> str:
    """Where a link leads: a known article's own address when it names one, else the link made
    absolute against the website."""
    article = linked_article(href, links)
    return article.url if article else absolute(href, links)


def is_safe(href: str) -> bool:
    scheme = urlsplit(href.strip()).scheme.lower()
    return scheme in _SAFE_SCHEMES or scheme == ""


def absolute(href: str, links: ClinicLinks) -> str:
    href = href.strip()
    if urlsplit(href).scheme:
        return href
    match = _ARTICLE_FILE.match(href)
    if match:
        return links.article_url(match["slug"])
    return urljoin(links.website.rstrip("/") + "/", href)


def _page_key(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.netloc.lower(), parts.path.rstrip("/")


def _same_page(url: str, other: str) -> bool:
    return _page_key(url) == _page_key(other)


def _same_site(url: str, website: str) -> bool:
    return urlsplit(url).netloc.lower() == urlsplit(website).netloc.lower()
