"""Plain text as pasted from a clinic blog, and the text helpers under every parser."""

import pytest

from pipeline.content import ClinicLinks, KnownArticle, parse_bytes
from pipeline.content.text import normalise, sentences, slugify, summarise
from pipeline.errors import ContentError

SITE = "https://clinic.example"
LINKS = ClinicLinks(
    website=SITE,
    booking_url=f"{SITE}/book",
    articles=(
        KnownArticle(
            "glutes-and-sciatica",
            "Your glutes, low back pain and sciatica",
            f"{SITE}/articles/glutes-and-sciatica",
            ("sciatica", "piriformis"),
        ),
        KnownArticle(
            "desk-work",
            "Desk work: easing neck, shoulder and low back tension",
            f"{SITE}/articles/desk-work",
            ("posture",),
        ),
    ),
)


def parse_text(text: str, name: str = "content/pasted.txt"):
    [article] = parse_bytes(text.encode("utf-8"), name, LINKS, "text")
    return article


def paragraphs(article):
    return [block.text for block in article.blocks if block.type == "paragraph"]


def test_normalise_makes_pasted_typography_plain():
    pasted = "It\u2019s\u00a0sore.  Very \u201csore\u201d\u200b.\r\nNext\u202fline\t here "
    assert normalise(pasted) == 'It\'s sore. Very "sore".\nNext line here'


def test_sentences_end_at_full_stops_question_marks_closing_quotes_and_line_breaks():
    text = 'Sit less. Move more? She said "stand up." Then\nCheck out my article on Sciatica'
    assert [sentence for _, sentence in sentences(text)] == [
        "Sit less.",
        "Move more?",
        'She said "stand up."',
        "Then",
        "Check out my article on Sciatica",
    ]


def test_slugify_keeps_lower_case_ascii_words():
    assert slugify("Café: Massage & Back-Pain!  ") == "cafe-massage-back-pain"


def test_summary_takes_whole_sentences_up_to_about_two_hundred_characters():
    first = "Short opening sentence."
    long = "word " * 60
    assert summarise([f"{first} And {long.strip()}."]) == first
    assert summarise([long.strip()]).endswith("…")


def test_first_line_is_the_title():
    article = parse_text("Easing a stiff neck\n\nA stiff neck is common after a long drive.\n")
    assert article.title == "Easing a stiff neck"
    assert paragraphs(article) == ["A stiff neck is common after a long drive."]
    assert article.warnings == ()
    assert article.source_kind == "text"
    assert article.slug == "pasted"


def test_a_question_can_be_the_title():
    article = parse_text(
        "Can massage help my sciatica?\n\nOften it can, when the cause is a tight hip."
    )
    assert article.title == "Can massage help my sciatica?"
    assert article.warnings == ()


def test_without_a_title_line_the_title_comes_from_the_file_name_with_a_warning():
    article = parse_text(
        "Most of us sit for far longer than we realise.\n\nThe hip flexors shorten.\n",
        name="content/sitting_and-your hips.txt",
    )
    assert article.title == "Sitting and your hips"
    assert paragraphs(article)[0] == "Most of us sit for far longer than we realise."
    [warning] = article.warnings
    assert warning.line == 1
    assert "file name" in warning.message


def test_without_a_title_line_or_a_telling_file_name_the_first_sentence_is_the_title():
    article = parse_text(
        "We are delighted to welcome a new physiotherapist to our team this month, who "
        "specialises in rehabilitation.\n\nShe works on Tuesdays.\n",
        name="content/post-3.txt",
    )
    assert article.title == "We are delighted to welcome a new physiotherapist to our team this…"
    assert "first sentence" in article.warnings[0].message
    assert article.warnings[0].line == 1


def test_paragraphs_are_separated_by_runs_of_blank_lines_and_typography_is_normalised():
    text = (
        "Desk tips\n\n\n\n"
        "Your screen\u00a0should be at eye level.  Your \u201ckeyboard\u201d close.\n"
        "Wrapped lines stay in their paragraph.\n"
        "\u00a0\n   \n"
        "It\u2019s worth it.\n"
    )
    article = parse_text(text)
    assert paragraphs(article) == [
        'Your screen should be at eye level. Your "keyboard" close. '
        "Wrapped lines stay in their paragraph.",
        "It's worth it.",
    ]


def test_windows_line_endings_keep_line_numbers():
    article = parse_text("Title\r\n\r\nFirst.\r\n\r\nThe photo below shows the stretch.\r\n")
    [warning] = article.warnings
    assert warning.line == 5


def test_short_lines_between_paragraphs_are_headings_and_bullets_are_lists():
    text = (
        "Winter running\n\nDark mornings are hard.\n\nWhat to wear\n\n"
        "Layers help:\n- A bright top\n• Gloves\n1. Good shoes\n\n> Slow down on ice.\n"
    )
    article = parse_text(text)
    kinds = [(block.type, block.text) for block in article.blocks]
    assert kinds == [
        ("paragraph", "Dark mornings are hard."),
        ("heading", "What to wear"),
        ("paragraph", "Layers help:"),
        ("list", "A bright top\nGloves\nGood shoes"),
        ("quote", "Slow down on ice."),
    ]
    assert article.blocks[3].items == ("A bright top", "Gloves", "Good shoes")


def test_calls_to_action_without_urls_are_recognised_and_bound():
    text = (
        "Sciatica\n\nA sore buttock can be the piriformis.\n\n"
        "Make an appointment online HERE.\n\n"
        "Read more about the types of massage we offer.\n\n"
        "Check out my article on Sciatica\n"
    )
    article = parse_text(text)
    assert [(cta.kind, cta.text, cta.url) for cta in article.ctas] == [
        ("booking", "Make an appointment online HERE", f"{SITE}/book"),
        ("read_more", "Read more about the types of massage we offer", SITE),
        ("article_ref", "Check out my article on Sciatica", f"{SITE}/articles/glutes-and-sciatica"),
    ]
    assert paragraphs(article) == ["A sore buttock can be the piriformis."]
    assert article.warnings == ()


@pytest.mark.parametrize(
    "sentence",
    [
        "Book your sports massage today.",
        "To book, call reception or use our online booking page.",
        "When your surgeon is happy, book a post-operative assessment online.",
        "Click here to book your first session.",
        "Schedule an appointment with our physiotherapist.",
    ],
)
def test_booking_imperatives_are_calls_to_action(sentence):
    article = parse_text(f"Title\n\nSome prose here.\n\n{sentence}\n")
    assert [cta.kind for cta in article.ctas] == ["booking"]
    assert article.ctas[0].url == f"{SITE}/book"


@pytest.mark.parametrize(
    "sentence",
    [
        "Many clients book a session after a long run.",
        "If it spreads into your arm, see your GP before booking a massage.",
        "Make sure you stretch before a massage.",
    ],
)
def test_sentences_that_only_mention_booking_stay_prose(sentence):
    article = parse_text(f"Title\n\n{sentence}\n")
    assert article.ctas == ()
    assert paragraphs(article) == [sentence]


def test_a_call_to_action_inside_a_paragraph_leaves_the_rest_of_it():
    article = parse_text(
        "Title\n\nSciatica can be miserable. Make an appointment online HERE. We can help.\n"
    )
    assert paragraphs(article) == ["Sciatica can be miserable. We can help."]
    assert [cta.kind for cta in article.ctas] == ["booking"]


def test_an_article_reference_resolves_by_the_words_of_a_known_title():
    article = parse_text(
        "Title\n\nProse.\n\nHave a look at our article on desk work and posture.\n"
    )
    assert article.ctas[0].url == f"{SITE}/articles/desk-work"


def test_an_article_reference_to_no_known_article_links_to_the_website_with_a_warning():
    article = parse_text("Title\n\nProse.\n\nCheck out my article on knee replacements.\n")
    assert article.ctas[0].kind == "article_ref"
    assert article.ctas[0].url == SITE
    [warning] = article.warnings
    assert warning.line == 5
    assert "knee replacements" in warning.message


def test_a_bare_url_in_a_call_to_action_is_its_url():
    article = parse_text("Title\n\nProse.\n\nBook online at https://other.example/book-now.\n")
    assert article.ctas[0].kind == "booking"
    assert article.ctas[0].url == "https://other.example/book-now"


def test_a_bare_url_in_prose_is_listed_as_a_link():
    article = parse_text("Title\n\nThe NHS explains it at https://www.nhs.uk/sciatica, too.\n")
    assert [(cta.kind, cta.url) for cta in article.ctas] == [
        ("link", "https://www.nhs.uk/sciatica")
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "The picture above shows the stretch.",
        "As you can see in the diagram below, the muscle is deep.",
        "See the photo for the position.",
        "In the image below you can see the hip.",
    ],
)
def test_a_reference_to_a_missing_picture_warns_with_its_line(sentence):
    article = parse_text(f"Title\n\nFirst paragraph.\nSecond line.\n\n{sentence}\n")
    [warning] = article.warnings
    assert warning.line == 6
    assert "picture that is not in the article" in warning.message


def test_text_with_only_a_title_is_refused():
    with pytest.raises(ContentError, match="no text"):
        parse_text("Just a title\n")


def test_word_count_counts_the_text_without_the_calls_to_action():
    article = parse_text("Title here\n\nOne two three four.\n\nBook your massage today.\n")
    assert article.word_count == 4
