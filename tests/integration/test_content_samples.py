"""The sample clinic's articles in content/ are what the house format promises: clean parses,
400 to 800 words, calls to action of every kind, references that reach the other articles, and
the words each segment's relevance looks for."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import load_settings
from pipeline.content import content_files, parse_path, workspace_links
from pipeline.content.text import words

CONTENT = Path(__file__).resolve().parents[2] / "content"
FILES = content_files(CONTENT)


@pytest.fixture
def articles(workspace):
    settings = load_settings(workspace)
    links = workspace_links(settings)
    return {
        article.slug: article
        for path in content_files(workspace / "content")
        for article in parse_path(path, links)
    }


def test_there_are_at_least_five_sample_articles():
    assert len(FILES) >= 5
    assert all(path.suffix == ".md" for path in FILES)


def test_every_sample_article_parses_cleanly_at_a_readable_length(articles):
    for article in articles.values():
        assert article.warnings == (), article.slug
        assert 400 <= article.word_count <= 800, (article.slug, article.word_count)
        assert article.published is not None and article.tags and article.summary
        assert article.hero_image and article.hero_alt


def test_every_sample_article_has_booking_read_more_and_a_reference_to_another(articles):
    website = "https://harbourside-clinic.example"
    for article in articles.values():
        kinds = {cta.kind for cta in article.ctas}
        assert {"booking", "read_more", "article_ref"} <= kinds, article.slug
        for reference in (cta for cta in article.ctas if cta.kind == "article_ref"):
            target = reference.url.removeprefix(f"{website}/articles/")
            assert target in articles and target != article.slug, reference


@pytest.mark.parametrize(
    ("slug", "vocabulary"),
    [
        ("desk-work-neck-shoulders-back", {"sitting", "posture", "screen", "keyboard", "desk"}),
        ("sports-massage-training-recovery", {"training", "running", "recovery", "performance"}),
        ("massage-after-surgery", {"surgery", "scar", "swelling", "surgeon"}),
        ("glutes-and-sciatica", {"glutes", "sciatica", "piriformis", "back"}),
        ("full-treatment-for-back-pain", {"hamstrings", "itb", "hip", "flexors"}),
    ],
)
def test_articles_use_the_words_their_readers_expect(articles, slug, vocabulary):
    text = " ".join(block.text for block in articles[slug].blocks)
    assert vocabulary <= set(words(text))
