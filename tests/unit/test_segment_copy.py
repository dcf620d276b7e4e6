"""Copy per segment: voices validated with file and line, patterns filled and fitted, subjects
shortened at a word boundary, excerpts that stand alone, no sentence read twice, and subject
headers folded without adding spaces."""

from __future__ import annotations

import email
import email.policy
from email.header import decode_header, make_header
from pathlib import Path

import pytest

from pipeline.campaigns.copy import fit_subject, shorten, write_copy
from pipeline.content.excerpt import opens_with_back_reference, standalone_excerpt, without_repeats
from pipeline.content.plaintext import title_from_file_name
from pipeline.errors import SpecError
from pipeline.render.headers import fold_unstructured
from pipeline.segments import load_segments, parse_segments

REPO = Path(__file__).resolve().parents[2]
SEGMENTS = {segment.name: segment for segment in load_segments(REPO)}


@pytest.mark.parametrize(
    "text",
    [
        "Why we massage your legs when it's your back that hurts, and what to do about it",
        "Supercalifragilistic-expialidocious stretches for the hamstrings of marathon runners",
        "A" * 90,
    ],
)
def test_shortening_never_cuts_inside_a_word_and_keeps_the_limit(text):
    short = shorten(text, 60)
    assert len(short) <= 60 and short.endswith("…")
    kept = short.removesuffix("…")
    if " " in text[:60]:
        assert text.startswith(kept) and text[len(kept)] in " ,"
    assert kept.split()[-1].lower() not in {"and", "the", "to", "of", "for", "with"}


def test_the_first_subject_pattern_that_fits_wins_and_long_ones_are_shortened():
    assert fit_subject(["x" * 61 + " long", "Short one"]) == "Short one"
    long = "Massage for the long slow miles: calves, hamstrings and everything else besides"
    subject = fit_subject([long])
    assert len(subject) <= 60 and long.startswith(subject.removesuffix("…"))


def test_each_shipped_segment_reads_differently_and_fills_its_placeholders():
    copies = {
        name: write_copy(
            segment, title="Why a back massage is worth your time", phrase="hamstring",
            clinic="Harbourside", summary="A summary.",
        )
        for name, segment in SEGMENTS.items()
    }  # fmt: skip
    assert len({copy.subject for copy in copies.values()}) == 4
    assert len({copy.intro for copy in copies.values()}) == 4
    assert len({copy.preheader for copy in copies.values()}) == 4
    for copy in copies.values():
        assert "{" not in copy.subject + copy.preheader + copy.intro + copy.cta
        assert 40 <= len(copy.preheader) <= 110 and len(copy.subject) <= 60
    assert "hamstring" in copies["athletes"].intro


def test_a_sensitive_segment_never_takes_a_title_that_names_a_condition():
    copy = write_copy(
        SEGMENTS["post_op"], title="Massage after surgery", phrase="surgery", clinic="Harbourside"
    )
    assert "surgery" not in copy.subject.lower() + copy.preheader.lower()
    assert copy.subject


VOICE = """\
segments:
  post_op:
    label: Recovering
    code: s5w2
    sensitive: true
    rule:
      any:
        - tags: {{in: [post-op]}}
    topics:
      scar tissue: 3
    voice:
      angle: moving again
      subject: ["{{title}}", {subject}]
      preheader: A gentle note from our therapists about feeling at ease in your body.
      intro: Hello again.
      cta: Read on
"""


@pytest.mark.parametrize(
    ("subject", "words"),
    [
        ('"After your surgery: {title}"', "names 'surgery'"),
        ('"Your {phrase} update"', "may not use {phrase}"),
        ('"Hi {name}"', "unknown placeholder {name}"),
        ('"Scar tissue news"', "names 'scar tissue'"),
    ],
)
def test_voice_mistakes_name_the_file_line_and_key(tmp_path, subject, words):
    path = tmp_path / "segments.yaml"
    path.write_text(VOICE.format(subject=subject), encoding="utf-8")
    with pytest.raises(SpecError) as raised:
        parse_segments(path)
    message = str(raised.value)
    assert words in message and ":13:" in message and "voice.subject[1]" in message


PARAGRAPHS = (
    "Glutes are the biggest muscles in the body and they steady the pelvis.",
    "Therefore, if your legs feel heavy, look at your glutes first. Tight glutes tip the pelvis.",
    "The piriformis sits under the glutes, close to the sciatic nerve.",
    "So do I have you convinced? An hour on the table does your back a favour.",
)


def test_a_back_reference_brings_in_the_paragraph_it_leans_on():
    excerpt = standalone_excerpt(PARAGRAPHS, [1], budget=120)
    assert excerpt == (f"{PARAGRAPHS[0]} {PARAGRAPHS[1]}",)
    assert not any(opens_with_back_reference(paragraph) for paragraph in excerpt)


def test_without_room_it_starts_at_the_first_self_contained_sentence():
    excerpt = standalone_excerpt(PARAGRAPHS, [2, 3], budget=25)
    assert excerpt == (PARAGRAPHS[2], "An hour on the table does your back a favour.")
    assert sum(len(paragraph.split()) for paragraph in excerpt) <= 25


def test_the_word_budget_is_kept_even_for_one_long_paragraph():
    long = " ".join(f"Sentence number {n} says a little more." for n in range(40))
    excerpt = standalone_excerpt((long,), [0], budget=30)
    assert 0 < sum(len(p.split()) for p in excerpt) <= 30


def test_a_sentence_already_read_in_the_preheader_or_intro_is_not_repeated():
    excerpt = ("A good massage does more than feel nice. So it is worth it. Your back thanks you.",)
    kept = without_repeats(excerpt, ["A good massage does more than feel nice."])
    assert kept == ("Your back thanks you.",)


@pytest.mark.parametrize(
    "subject",
    [
        "Sports massage for training and recovery, and 3 more from Harbourside…",
        "Désk wörk: éasing néck, shoulder and löw back tension, and 3 more from Harbourside",
        "Ünïcödé ẃörds ëvérywhéré ïn thïs sübjéct thät ïs löng énöügh tö wräp twïcé över",
        "Massage “after” surgery: scar tissue, swelling — and when to start, and 3 more",
    ],
)
def test_folding_a_subject_never_adds_a_space(subject):
    folded = fold_unstructured("Subject", subject)
    lines = folded.decode("ascii").split("\r\n")
    assert all(len(line) <= 78 for line in lines)
    unfolded = "".join(lines)[len("Subject:") :].removeprefix(" ")
    assert str(make_header(decode_header(unfolded))) == subject
    parsed = email.message_from_bytes(folded + b"\r\n", policy=email.policy.default)
    assert parsed["Subject"] == subject


@pytest.mark.parametrize(
    ("words", "title"),
    [
        (["GLUTE", "MASSAGE"], "Glute massage"),
        (["glute", "massage"], "Glute massage"),
        (["easing", "the", "ITB"], "Easing the ITB"),
        (["McKenzie", "exercises"], "McKenzie exercises"),
    ],
)
def test_a_title_from_a_file_name_is_in_sentence_case(words, title):
    assert title_from_file_name(words) == title


def test_a_best_paragraph_that_only_leans_back_and_overflows_comes_with_its_lead_cut_to_fit():
    lead = " ".join(f"Glutes matter for reason {n}." for n in range(10))
    leaning = " ".join(f"So that is point {n}." for n in range(10))
    excerpt = standalone_excerpt((lead, leaning), [1], budget=20)
    assert excerpt and excerpt[0].startswith("Glutes matter for reason 0.")
    assert not opens_with_back_reference(excerpt[0])
    assert sum(len(paragraph.split()) for paragraph in excerpt) <= 20
