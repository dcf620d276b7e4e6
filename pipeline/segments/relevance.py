"""How well an article fits each segment: topic phrases matched in its text, tolerant of case,
inflection ("desks", "sitting") and the typos of real blog copy ("siting"), with the evidence.

Scores lie in [0, 1): each phrase adds its weight times log(1 + occurrences), so repeating one
phrase has diminishing returns and a spread of phrases counts more; the sum saturates smoothly.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer
from rapidfuzz.distance import OSA, Indel, Levenshtein

from pipeline.models import GENERAL_SEGMENT, Article, Relevance, Segment, Topic

# Raw evidence at which a score reaches 1 - 1/e (about 0.63): three phrases of weight 2, each
# seen once or twice, make an article clearly about a segment.
SCORE_SCALE = 6.0
# A match in the title counts this many times: the title says what the article is about.
TITLE_FACTOR = 2
# Typos are tolerated on words at least this long, with the same first letter: "siting" finds
# "sitting", while "training" never finds "straining".
FUZZY_MIN_LENGTH = 5
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")
# Small words that carry no topic: phrases and text both skip them, so "return to sport" is
# found in "returning to their sport".
STOPWORDS = frozenset(
    (
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "her",
        "his",
        "i",
        "in",
        "into",
        "is",
        "it",
        "its",
        "my",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "with",
        "you",
        "your",
    )
)


@dataclass(frozen=True)
class _Token:
    raw: str
    stem: str


@lru_cache(maxsize=1)
def _stemmer():
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=20000)
def _stem(word: str) -> str:
    return _stemmer().stemWord(word)


def tokens(text: str) -> list[_Token]:
    """The topic-bearing words of `text`, lower-cased, possessives dropped, with their stems."""
    found = []
    for match in _WORD.finditer(text.lower().replace("’", "'")):
        word = match.group().removesuffix("'s")
        if word not in STOPWORDS:
            found.append(_Token(word, _stem(word)))
    return found


def _one_typo_apart(typed: str, meant: str) -> bool:
    """A letter missed or doubled ("siting"), or two neighbours swapped ("postrue"). A changed
    letter is not counted as a typo: it turns too many real words into others ("setting" and
    "sitting", "ruining" and "running")."""
    if Indel.distance(typed, meant, score_cutoff=1) <= 1:
        return True
    return OSA.distance(typed, meant, score_cutoff=1) == 1 and (
        Levenshtein.distance(typed, meant, score_cutoff=2) == 2
    )


def _same_word(token: _Token, wanted: _Token) -> bool:
    if token.stem == wanted.stem:
        return True
    if token.raw[0] != wanted.raw[0]:
        return False
    if min(len(token.raw), len(wanted.raw)) >= FUZZY_MIN_LENGTH and _one_typo_apart(
        token.raw, wanted.raw
    ):
        return True
    return min(len(token.stem), len(wanted.stem)) >= FUZZY_MIN_LENGTH and _one_typo_apart(
        token.stem, wanted.stem
    )


def _same_form(token: _Token, wanted: _Token) -> bool:
    """The word as written (a plural "s" aside, typos tolerated as in _same_word), not every
    word with its stem: "running" without "run" or "runs", "training" without "trained"."""
    typed, meant = token.raw.removesuffix("s"), wanted.raw.removesuffix("s")
    if typed == meant:
        return True
    return (
        typed[:1] == meant[:1]
        and min(len(typed), len(meant)) >= FUZZY_MIN_LENGTH
        and _one_typo_apart(typed, meant)
    )


class _Matcher:
    """Counts a phrase's occurrences in token lists, caching word comparisons per article."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], bool] = {}

    def same(self, token: _Token, wanted: _Token, exact: bool = False) -> bool:
        key = (token.raw, wanted.raw, exact)
        if key not in self._cache:
            self._cache[key] = _same_form(token, wanted) if exact else _same_word(token, wanted)
        return self._cache[key]

    def count(
        self,
        phrase: Sequence[_Token],
        text: Sequence[_Token],
        used: set[int],
        blocked: frozenset[int] = frozenset(),
        exact: bool = False,
    ) -> int:
        """Occurrences of the phrase's words, in order and adjacent (stopwords aside), that do
        not reuse a word in `used` nor touch one in `blocked`; the words they take are added to
        `used`. Longer phrases are counted first, so "sports massage" is not also counted as
        "sport"."""
        if not phrase:
            return 0
        found, position, width = 0, 0, len(phrase)
        while position + width <= len(text):
            span = range(position, position + width)
            if (
                not used.intersection(span)
                and not blocked.intersection(span)
                and all(self.same(text[position + i], phrase[i], exact) for i in range(width))
            ):
                found += 1
                used.update(span)
                position += width
            else:
                position += 1
        return found


def _excluded(
    matcher: _Matcher,
    topic: Topic,
    title: Sequence[_Token],
    body: Sequence[Sequence[_Token]],
    paragraphs: Sequence[Sequence[_Token]],
) -> dict[str, list[frozenset[int]]]:
    """The word positions, per text, inside the senses `topic` must not match."""

    def positions(text: Sequence[_Token]) -> frozenset[int]:
        if not topic.exclude:
            return frozenset()
        taken: set[int] = set()
        for sense in topic.exclude:
            matcher.count(tokens(sense), text, taken)
        return frozenset(taken)

    return {
        "title": [positions(title)],
        "body": [positions(block) for block in body],
        "paragraphs": [positions(paragraph) for paragraph in paragraphs],
    }


def _score(raw: float) -> float:
    return round(1 - math.exp(-raw / SCORE_SCALE), 4)


def score_article(article: Article, segments: Sequence[Segment]) -> dict[str, Relevance]:
    """For each segment (keyed by name, `general` always included): a score in [0, 1), the
    phrases that matched with their counts, and the indices of `article.paragraphs` that
    mention the segment's topics, best first (ties in article order). Without topics of its own,
    `general` scores what the other segments leave (1 minus the best of theirs) and lists every
    paragraph in article order."""
    matcher = _Matcher()
    title = tokens(article.title)
    other_blocks = [
        tokens(block.text)
        for block in article.blocks
        if block.type != "paragraph" and block.type != "image" and block.text
    ]
    body = [tokens(article.summary), *other_blocks]
    paragraphs = [tokens(text) for text in article.paragraphs]
    results: dict[str, Relevance] = {}
    for segment in segments:
        if not segment.topics:
            if segment.name != GENERAL_SEGMENT:
                results[segment.name] = Relevance(segment.name, 0.0, {}, ())
            continue
        matches: Counter[str] = Counter()
        per_paragraph = [0.0] * len(paragraphs)
        raw = 0.0
        used_in_title: set[int] = set()
        used_in_body: list[set[int]] = [set() for _ in body]
        used_in_paragraphs: list[set[int]] = [set() for _ in paragraphs]
        # Every wording of every phrase, longest first (see _Matcher.count).
        forms = sorted(
            (
                (topic, tokens(wording))
                for topic in segment.topics
                for wording in (topic.phrase, *topic.variants)
            ),
            key=lambda pair: -len(pair[1]),
        )
        found_in_title: Counter[str] = Counter()
        found_in_body: Counter[str] = Counter()
        found_in_paragraphs: list[Counter[str]] = [Counter() for _ in paragraphs]
        exclusions = {
            topic.phrase: _excluded(matcher, topic, title, body, paragraphs)
            for topic in segment.topics
        }
        for topic, form in forms:
            blocked = exclusions[topic.phrase]
            found_in_title[topic.phrase] += matcher.count(
                form, title, used_in_title, blocked["title"][0], topic.exact
            )
            found_in_body[topic.phrase] += sum(
                matcher.count(form, block, used, excluded, topic.exact)
                for block, used, excluded in zip(body, used_in_body, blocked["body"], strict=True)
            )
            for index, (paragraph, used) in enumerate(
                zip(paragraphs, used_in_paragraphs, strict=True)
            ):
                found_in_paragraphs[index][topic.phrase] += matcher.count(
                    form, paragraph, used, blocked["paragraphs"][index], topic.exact
                )
        for topic in segment.topics:
            in_title = found_in_title[topic.phrase]
            in_paragraphs = [counts[topic.phrase] for counts in found_in_paragraphs]
            total = in_title + found_in_body[topic.phrase] + sum(in_paragraphs)
            if not total:
                continue
            matches[topic.phrase] = total
            raw += topic.weight * math.log1p(TITLE_FACTOR * in_title + total - in_title)
            for index, count in enumerate(in_paragraphs):
                per_paragraph[index] += topic.weight * count
        ranked = sorted(
            (index for index, value in enumerate(per_paragraph) if value > 0),
            key=lambda index: (-per_paragraph[index], index),
        )
        order = {topic.phrase: index for index, topic in enumerate(segment.topics)}
        by_count = sorted(matches.items(), key=lambda item: (-item[1], order[item[0]]))
        results[segment.name] = Relevance(
            segment=segment.name,
            score=_score(raw),
            matches=dict(by_count),
            paragraphs=tuple(ranked),
        )
    if GENERAL_SEGMENT not in results:
        best = max((r.score for r in results.values()), default=0.0)
        results[GENERAL_SEGMENT] = Relevance(
            segment=GENERAL_SEGMENT,
            score=round(1 - best, 4),
            matches={},
            paragraphs=tuple(range(len(paragraphs))),
        )
    return results
