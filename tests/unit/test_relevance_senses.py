"""Relevance that reads the sentence: senses a phrase must not match, variants that count as
the phrase, their validation in segments.yaml, and article references with trailing filler."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.content import ClinicLinks, KnownArticle, parse_bytes
from pipeline.content.links import resolve_article, trim_reference
from pipeline.errors import SpecError
from pipeline.models import Article, Block
from pipeline.segments import load_segments, parse_segments, score_article

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "posts"
SEGMENTS = load_segments(REPO)
SITE = "https://clinic.example"
LINKS = ClinicLinks(
    website=SITE,
    booking_url=f"{SITE}/book",
    articles=(
        KnownArticle(
            "glutes-and-sciatica",
            "Why your glutes matter for sciatica",
            f"{SITE}/blog/glutes-and-sciatica",
            ("sciatica", "low back pain"),
        ),
        KnownArticle(
            "desk-work-neck-shoulders-back",
            "Desk work: easing neck, shoulder and low back tension",
            f"{SITE}/blog/desk-work",
            ("posture",),
        ),
    ),
)


def _passage(text: str) -> Article:
    return Article(
        slug="p", title="", summary="", published=None, tags=(), canonical_url=None,
        hero_image=None, blocks=(Block("paragraph", text),), ctas=(), word_count=0,
    )  # fmt: skip


def _post(name: str) -> Article:
    [article] = parse_bytes((FIXTURES / name).read_bytes(), f"content/{name}", LINKS, "text")
    return article


def test_a_muscle_that_runs_through_the_thigh_is_not_running():
    scores = score_article(
        _passage("The hamstring is the muscle that runs through the back of the thigh."), SEGMENTS
    )
    assert "running" not in scores["athletes"].matches
    scores = score_article(_passage("Running three times a week builds a base."), SEGMENTS)
    assert scores["athletes"].matches.get("running") == 1
    scores = score_article(_passage("Time seems to run faster in December."), SEGMENTS)
    assert "running" not in scores["athletes"].matches


def test_a_variant_counts_as_its_phrase():
    scores = score_article(
        _passage("Anyone recovering from medical procedures can benefit from massage."), SEGMENTS
    )
    assert scores["post_op"].matches.get("medical procedure") == 1
    assert scores["post_op"].score >= 0.2


def test_the_back_massage_post_fits_desk_workers_better_than_athletes_and_reaches_post_op():
    scores = score_article(_post("back-massage-benefits.txt"), SEGMENTS)
    assert scores["desk_workers"].score > scores["athletes"].score
    # "out on a long run" is the sport; "the muscle that runs through the back of the thigh" not.
    assert scores["athletes"].matches.get("running") == 1
    assert scores["post_op"].score >= 0.3


def test_a_reference_with_trailing_filler_finds_the_article():
    assert trim_reference("Sciatica for more info on that") == "Sciatica"
    assert trim_reference("desk posture here") == "desk posture"
    assert resolve_article("Sciatica for more info on that", LINKS, "x").slug == (
        "glutes-and-sciatica"
    )
    assert resolve_article("the desk work one", LINKS, "x").slug == "desk-work-neck-shoulders-back"
    assert resolve_article("knee surgery recovery", LINKS, "x") is None
    article = _post("glute-massage.txt")
    [reference] = [cta for cta in article.ctas if cta.kind == "article_ref"]
    assert reference.url == f"{SITE}/blog/glutes-and-sciatica"
    assert not any("no article matches" in w.message for w in article.warnings)


TOPICS = """\
segments:
  athletes:
    label: Athletes
    code: s1a7
    rule:
      any:
        - tags: {{in: [runner]}}
    topics:
      running:
{body}
"""


@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("        weight: 3\n        not: run through", 11, "not takes a non-empty list"),
        ("        weight: 3\n        variants: []", 11, "variants takes a non-empty list"),
        (
            "        weight: 3\n        sense: [x]",
            11,
            "unknown key (use weight, variants, not, exact)",
        ),
        ("        variants: [run]", 9, "a topic weight must be a positive number"),
    ],
)
def test_topic_mistakes_name_the_file_and_line(tmp_path, body, line, words):
    path = tmp_path / "segments.yaml"
    path.write_text(TOPICS.format(body=body), encoding="utf-8")
    with pytest.raises(SpecError) as raised:
        parse_segments(path)
    assert f"segments.yaml:{line}:" in str(raised.value) and words in str(raised.value)


def test_a_sense_that_reads_as_the_phrase_itself_is_refused(tmp_path):
    path = tmp_path / "segments.yaml"
    path.write_text(TOPICS.format(body="        weight: 3\n        not: [run from]"), "utf-8")
    with pytest.raises(SpecError, match=r"segments\.yaml:11: .*'run from' reads as no more"):
        parse_segments(path)
