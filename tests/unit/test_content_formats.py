"""Markdown with front matter, HTML pages, RSS/Atom feeds, bad bytes and the article document,
all parsed from bytes in memory."""

import json
from dataclasses import replace

import pytest

from pipeline.content import (
    ClinicLinks,
    KnownArticle,
    article_document,
    article_from_document,
    content_hash,
    parse_bytes,
)
from pipeline.content.markdown import parse_markdown
from pipeline.errors import ContentError

SITE = "https://clinic.example"
LINKS = ClinicLinks(
    SITE,
    f"{SITE}/book",
    (KnownArticle("glutes-and-sciatica", "Glutes and sciatica", f"{SITE}/articles/glutes"),),
)
DOCUMENT_KEYS = {
    "slug", "title", "summary", "published", "tags", "canonical_url", "hero_image", "blocks",
    "ctas", "word_count", "warnings",
}  # fmt: skip

HOUSE = """\
---
title: Tight hamstrings and your back
slug: hamstrings
summary: Why the backs of the thighs matter.
published: 2026-05-20
tags: [hamstrings, low back pain]
canonical_url: https://clinic.example/blog/hamstrings
hero_image: /images/hamstrings.jpg
hero_alt: A hamstring stretch
---

# Tight hamstrings and your back

Your hamstrings run from the sitting bones
to the knee. They tug on the pelvis.

## Signs

- Stiff mornings
- Aching after driving

> Stretch little and often.

![A seated stretch](/images/seated.jpg)

The NHS has [a page of exercises](https://www.nhs.uk/exercise/) and
[our prices](/prices) are online.

Check out my article on [glutes](glutes-and-sciatica.md).

[Book a treatment](https://clinic.example/book/).
"""


def parse_md(text: str, name: str = "content/post.md"):
    return parse_markdown(text, name, LINKS)


def test_house_format_front_matter_and_blocks():
    article = parse_md(HOUSE)
    assert (article.slug, article.title, article.summary) == (
        "hamstrings",
        "Tight hamstrings and your back",
        "Why the backs of the thighs matter.",
    )
    assert article.published.isoformat() == "2026-05-20"
    assert article.tags == ("hamstrings", "low back pain")
    assert article.canonical_url == "https://clinic.example/blog/hamstrings"
    assert article.hero_image == "https://clinic.example/images/hamstrings.jpg"
    assert article.hero_alt == "A hamstring stretch"
    assert [(block.type, block.line) for block in article.blocks] == [
        ("paragraph", 14),
        ("heading", 17),
        ("list", 19),
        ("quote", 22),
        ("image", 24),
        ("paragraph", 26),
    ]
    assert article.blocks[0].text == (
        "Your hamstrings run from the sitting bones to the knee. They tug on the pelvis."
    )
    assert article.blocks[2].items == ("Stiff mornings", "Aching after driving")
    assert (article.blocks[4].src, article.blocks[4].alt) == (
        "https://clinic.example/images/seated.jpg",
        "A seated stretch",
    )
    assert article.warnings == ()


def test_links_become_calls_to_action_of_their_kind():
    article = parse_md(HOUSE)
    assert [(cta.kind, cta.text, cta.url) for cta in article.ctas] == [
        ("link", "a page of exercises", "https://www.nhs.uk/exercise/"),
        ("link", "our prices", f"{SITE}/prices"),
        ("article_ref", "Check out my article on glutes", f"{SITE}/articles/glutes"),
        ("booking", "Book a treatment", "https://clinic.example/book/"),
    ]
    # Prose keeps its links' text; a paragraph that is only a call to action leaves the text.
    assert article.blocks[-1].text == "The NHS has a page of exercises and our prices are online."


def test_title_comes_from_the_first_heading_when_front_matter_has_none():
    article = parse_md("# Desk stretches\n\nStand up every half hour.\n", "content/desk.md")
    assert article.title == "Desk stretches"
    assert article.slug == "desk"
    assert article.summary == "Stand up every half hour."


def test_warnings_for_unknown_keys_raw_html_missing_alt_text_and_unsafe_links():
    text = (
        "---\ntitle: T\ncolour: blue\nhero_image: https://clinic.example/a.jpg\n---\n\n"
        "Text [here](javascript:alert(1)) and more.\n\n![](https://clinic.example/b.jpg)\n\n"
        "<div>promo</div>\n"
    )
    article = parse_md(text)
    messages = {(warning.line, warning.message.split(":")[0]) for warning in article.warnings}
    assert (3, "unknown front matter key 'colour' was ignored (known") in messages
    assert (None, "the hero image has no hero_alt") in messages
    assert (9, "image https") in messages
    assert (11, "raw HTML was left out") in messages
    assert all("javascript" not in cta.url for cta in article.ctas)


def test_tags_may_be_a_comma_separated_string_and_published_a_timestamp():
    article = parse_md(
        "---\ntitle: T\ntags: back, neck , back\npublished: 2026-01-02 10:00:00\n---\nText.\n"
    )
    assert article.tags == ("back", "neck")
    assert article.published.isoformat() == "2026-01-02"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("---\ntitle: A\ntags: [a, b\nslug: x\n---\nText.\n", 3, "front matter is not YAML"),
        ("---\n- a\n- b\n---\nText.\n", 2, "not YAML 'key: value' pairs"),
        ("---\ntitle: A\n\nText.\n", 1, "never closed"),
        ("---\nslug: a\n---\n\nText without a heading.\n", 1, "no usable title"),
        ("---\ntitle: A\nslug: Back Pain\n---\nText.\n", 3, "slug 'Back Pain' must be lower-case"),
        ("---\ntitle: A\npublished: soon\n---\nText.\n", 3, "published 'soon' is not a date"),
        ("---\ntitle: A\ncanonical_url: /x\n---\nText.\n", 3, "absolute http"),
        ("---\ntitle: A\ntags: {a: 1}\n---\nText.\n", 3, "tags must be a list"),
        ("---\ntitle: [A, B]\n---\nText.\n", 2, "title must be text"),
        ("---\ntitle: Only a title\n---\n", None, "no text"),
    ],
)
def test_bad_markdown_names_the_file_and_line(text, line, message):
    with pytest.raises(ContentError) as caught:
        parse_md(text, "content/bad.md")
    assert message in str(caught.value)
    assert caught.value.path == "content/bad.md"
    assert caught.value.line == line
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("data", "line", "message"),
    [
        (b"", None, "the file is empty"),
        (b" \n\t\n", None, "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", None, "binary file"),
        (b"Title\n\nCaf\xe9 prices.\n", 3, "not UTF-8 (byte 0xe9"),
    ],
)
def test_unusable_bytes_are_refused_with_the_file_name(data, line, message):
    with pytest.raises(ContentError) as caught:
        parse_bytes(data, "content/x.txt", LINKS, "text")
    assert message in str(caught.value)
    assert str(caught.value).startswith("content/x.txt")
    assert caught.value.line == line


def test_an_empty_feed_file_is_refused_as_empty():
    with pytest.raises(ContentError, match=r"^news\.rss: the file is empty"):
        parse_bytes(b"\n", "news.rss", LINKS, "feed")


def test_utf16_with_a_byte_order_mark_is_read():
    data = "Title\n\nSome text.\n".encode("utf-16")
    [article] = parse_bytes(data, "content/x.txt", LINKS, "text")
    assert article.title == "Title"


def test_kind_is_sniffed_when_the_name_does_not_tell():
    [markdown] = parse_bytes(b"---\ntitle: A\n---\nText.\n", "upload", LINKS)
    [html] = parse_bytes(PAGE.encode(), "upload", LINKS)
    [text] = parse_bytes(b"A title\n\nText.\n", "upload", LINKS)
    assert (markdown.source_kind, html.source_kind, text.source_kind) == (
        "markdown",
        "html",
        "text",
    )


PAGE = """<!DOCTYPE html><html><head><title>Neck pain at the desk | Clinic</title>
<meta property="og:title" content="Neck pain at the desk">
<meta name="description" content="Three desk changes.">
<link rel="canonical" href="https://clinic.example/blog/neck">
<script>var tracking = 1;</script></head>
<body><nav><a href="/">Home</a> <a href="/prices">Prices</a> <a href="/contact">Contact</a></nav>
<main><article><h1>Neck pain at the desk</h1>
<p>When you lean towards a screen your head drifts forward and the muscles at the back of the
neck work harder all day long, which is why the ache builds by the afternoon.</p>
<h2>What helps</h2>
<p>Raise the screen to eye level and keep the keyboard close, so that your shoulders can relax
while you type and your head stays balanced over your spine.</p>
<p onclick="steal()">Massage eases the tension.
<a href="javascript:alert(1)">Tricky link</a> here.</p>
<p><a href="https://clinic.example/book">Book a neck massage online</a>.</p>
</article></main>
<footer><p>Copyright 2026 Clinic. Cookie policy. All rights reserved.</p></footer>
</body></html>"""


def test_html_page_keeps_the_article_and_drops_navigation_scripts_and_footer():
    [article] = parse_bytes(PAGE.encode(), "imports/neck.html", LINKS, "html")
    assert article.title == "Neck pain at the desk"
    assert article.slug == "neck"
    assert article.summary == "Three desk changes."
    assert article.canonical_url == "https://clinic.example/blog/neck"
    assert article.source_kind == "html"
    assert [block.type for block in article.blocks] == [
        "paragraph",
        "heading",
        "paragraph",
        "paragraph",
    ]
    everything = json.dumps(article_document(article))
    for dropped in ("Prices", "Copyright", "tracking", "javascript", "onclick", "steal"):
        assert dropped not in everything
    assert [(cta.kind, cta.url) for cta in article.ctas] == [
        ("booking", "https://clinic.example/book")
    ]


def test_html_page_without_article_text_is_refused():
    with pytest.raises(ContentError, match="no article text"):
        parse_bytes(b"<html><head><title>Empty</title></head><body></body></html>", "a.html", LINKS)


def test_html_page_without_a_title_is_refused():
    page = (
        b"<html><body><p>"
        + b"Plenty of text about shoulders and necks. " * 8
        + b"</p></body></html>"
    )
    with pytest.raises(ContentError, match="no usable title"):
        parse_bytes(page, "a.html", LINKS, "html")


RSS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Blog</title>
<item><title>Stretching after a run</title><link>https://clinic.example/blog/stretching</link>
<pubDate>Wed, 16 Sep 2026 08:00:00 +0100</pubDate><category>running</category>
<description>&lt;p&gt;Stretch your calves.&lt;/p&gt;&lt;p&gt;Book a sports massage today.&lt;/p&gt;
&lt;script&gt;x()&lt;/script&gt;</description></item>
<item><title></title><link>https://clinic.example/blog/no-title</link>
<description>Scar massage keeps the tissue soft. Start when the wound has healed.
</description></item>
<item><title>Stretching again</title><link>https://clinic.example/blog/stretching</link>
<description>An older copy of the first post.</description></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>News</title><id>urn:news</id>
<updated>2026-10-01T09:00:00Z</updated>
<entry><title>Evening appointments</title><id>urn:1</id>
<link href="https://clinic.example/news/evenings"/><updated>2026-10-01T09:00:00Z</updated>
<content type="text">We are open until 8pm on Tuesdays.

Make an appointment online here.</content></entry></feed>"""


def test_rss_feed_gives_one_article_per_entry():
    articles = parse_bytes(RSS, "blog.rss", LINKS, None)
    assert [article.slug for article in articles] == ["stretching", "no-title"]
    first, second = articles
    assert first.title == "Stretching after a run"
    assert first.published.isoformat() == "2026-09-16"
    assert first.tags == ("running",)
    assert first.canonical_url == "https://clinic.example/blog/stretching"
    assert first.paragraphs == ("Stretch your calves.",)
    assert [cta.kind for cta in first.ctas] == ["booking"]
    assert "x()" not in json.dumps(article_document(first))
    assert second.title == "Scar massage keeps the tissue soft."
    assert "no title" in second.warnings[0].message
    assert {article.source_kind for article in articles} == {"feed"}


def test_atom_feed_with_plain_text_content():
    [article] = parse_bytes(ATOM, "news.atom", LINKS, "feed")
    assert article.slug == "evenings"
    assert article.paragraphs == ("We are open until 8pm on Tuesdays.",)
    assert article.ctas[0].url == f"{SITE}/book"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<?xml version='1.0'?><rss version='2.0'><channel><title>B", "not an RSS or Atom feed"),
        (
            b"<?xml version='1.0'?><rss version='2.0'><channel><title>B</title></channel></rss>",
            "no entries",
        ),
    ],
)
def test_bad_feeds_are_refused(data, message):
    with pytest.raises(ContentError, match=message):
        parse_bytes(data, "feed.xml", LINKS, "feed")


def test_document_has_exactly_the_documented_keys_and_round_trips():
    article = parse_md(HOUSE)
    document = article_document(article)
    assert set(document) == DOCUMENT_KEYS
    assert json.loads(json.dumps(document)) == document
    rebuilt = article_from_document(document)
    assert article_document(rebuilt) == document
    assert {block["type"] for block in document["blocks"]} <= {
        "heading", "paragraph", "list", "quote", "image",
    }  # fmt: skip
    image = next(block for block in document["blocks"] if block["type"] == "image")
    assert set(image) == {"type", "text", "alt", "src"}


def test_content_hash_follows_what_the_article_says_not_where_it_came_from():
    article = parse_md(HOUSE)
    assert content_hash(replace(article, source_path="elsewhere.md")) == article.content_hash
    assert content_hash(replace(article, title="Another title")) != article.content_hash
    assert content_hash(replace(article, hero_alt="Other alt")) != article.content_hash


def test_a_document_missing_keys_is_refused():
    with pytest.raises(ContentError, match="lacks blocks"):
        article_from_document({key: None for key in DOCUMENT_KEYS - {"blocks"}})
