"""Relevance of articles to segments: the sample articles fit the segments a reader would
expect, with evidence; matching tolerates case, inflection and typos but not look-alike words."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.content import ClinicLinks, parse_path
from pipeline.models import Article, Block, Segment, Topic
from pipeline.segments import load_segments, score_article

REPO = Path(__file__).resolve().parents[2]
SEGMENTS = load_segments(REPO)
LINKS = ClinicLinks(website="https://clinic.example", booking_url="https://clinic.example/book")


def _sample(slug: str) -> Article:
    [article] = parse_path(REPO / "content" / f"{slug}.md", LINKS)
    return article


def _article(title: str, *paragraphs: str) -> Article:
    return Article(
        slug="test", title=title, summary="", published=None, tags=(), canonical_url=None,
        hero_image=None, blocks=tuple(Block("paragraph", text) for text in paragraphs), ctas=(),
        word_count=0,
    )  # fmt: skip


def _one(*phrases: str) -> list[Segment]:
    topics = tuple(Topic(phrase, 1.0) for phrase in phrases)
    return [Segment("test", "Test", "t1t1", False, 0, None, topics)]


# slug -> (segments that must fit well, segments that must not, evidence phrases per fit)
EXPECTED = {
    "desk-work-neck-shoulders-back": ({"desk_workers": ("desk", "sitting", "posture")},
                                      {"post_op"}),
    "sports-massage-training-recovery": ({"athletes": ("sports massage", "training", "race")},
                                         {"desk_workers", "post_op"}),
    "massage-after-surgery": ({"post_op": ("surgery", "scar tissue", "swelling")},
                              {"desk_workers"}),
    "glutes-and-sciatica": ({"desk_workers": ("sitting", "back pain")}, {"post_op", "athletes"}),
    "full-treatment-for-back-pain": ({"athletes": ("hamstring", "runner"),
                                      "desk_workers": ("sitting", "back pain")}, {"post_op"}),
    "first-appointment": ({"general": ("massage",)}, {"desk_workers"}),
}  # fmt: skip


@pytest.mark.parametrize("slug", sorted(EXPECTED))
def test_each_sample_article_fits_the_segments_a_reader_expects(slug):
    fits, misfits = EXPECTED[slug]
    article = _sample(slug)
    results = score_article(article, SEGMENTS)
    assert set(results) == {s.name for s in SEGMENTS}
    ruled = {name: r.score for name, r in results.items() if name != "general"}
    for name, evidence in fits.items():
        assert results[name].score >= 0.5, (name, results[name])
        for phrase in evidence:
            assert results[name].matches.get(phrase, 0) >= 1, (name, phrase, results[name])
        assert results[name].paragraphs, "the best paragraphs for a fitting segment are listed"
        if name != "general":
            assert max(ruled, key=ruled.get) in fits
    for name in misfits:
        assert results[name].score < 0.35, (name, results[name])


def test_best_paragraphs_come_first_and_are_valid_indices():
    article = _sample("desk-work-neck-shoulders-back")
    result = score_article(article, SEGMENTS)["desk_workers"]
    assert len(set(result.paragraphs)) == len(result.paragraphs)
    assert all(0 <= index < len(article.paragraphs) for index in result.paragraphs)
    best = article.paragraphs[result.paragraphs[0]].lower()
    assert any(word in best for word in ("desk", "sitting", "screen", "posture", "chair"))


def test_case_and_inflection_are_tolerated():
    article = _article("Desks", "SITS at her DESK; she sat? no: she was sitting at desks.")
    result = score_article(article, _one("desk", "sitting"))["test"]
    assert result.matches == {"desk": 3, "sitting": 2}


def test_typos_of_real_blog_copy_are_tolerated_but_not_look_alike_words():
    article = _article(
        "Hours of siting", "Long hours siting at a desk, then postrue and shouldres suffer."
    )
    matches = score_article(article, _one("sitting", "posture", "shoulders"))["test"].matches
    assert matches == {"sitting": 2, "posture": 1, "shoulders": 1}
    unrelated = _article("Straining", "A site about setting up, straining and cunning plans.")
    assert score_article(unrelated, _one("sitting", "training", "running"))["test"].matches == {}


def test_phrases_skip_small_words_and_longer_phrases_take_their_words_first():
    article = _article("", "Returning to their sport after a sports massage.")
    matches = score_article(article, _one("return to sport", "sport", "sports massage"))["test"]
    assert matches.matches == {"return to sport": 1, "sports massage": 1}


def test_more_evidence_scores_higher_and_scores_stay_below_one():
    once = _article("", "A desk.")
    often = _article("Desk posture", "Desk, posture, sitting at a desk all day.", "A desk chair.")
    segments = [s for s in SEGMENTS if s.name == "desk_workers"]
    low = score_article(once, segments)["desk_workers"].score
    high = score_article(often, segments)["desk_workers"].score
    assert 0 < low < 0.5 < high < 1


def test_general_without_topics_scores_what_the_others_leave():
    segments = _one("desk")
    results = score_article(_article("", "A desk.", "Nothing else."), segments)
    assert results["general"].score == pytest.approx(1 - results["test"].score)
    assert results["general"].paragraphs == (0, 1)


def test_an_article_with_no_paragraphs_scores_from_its_title():
    results = score_article(_article("Sitting at your desk"), SEGMENTS)
    assert results["desk_workers"].score > 0 and results["desk_workers"].paragraphs == ()
