"""Article files of every kind read from disk, bad files refused with their name and line, and
feeds and pages fetched by URL from a real local HTTP server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.content import ClinicLinks, KnownArticle, parse_path, parse_source
from pipeline.errors import ContentError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "content"
SITE = "https://harbourside-clinic.example"
LINKS = ClinicLinks(
    SITE,
    f"{SITE}/book",
    (
        KnownArticle(
            "glutes-and-sciatica",
            "Your glutes, low back pain and sciatica",
            f"{SITE}/articles/glutes-and-sciatica",
            ("sciatica",),
        ),
    ),
)


def parse_one(relative: str):
    [article] = parse_path(FIXTURES / relative, LINKS, name=relative)
    return article


def test_blog_copy_with_a_title_line_headings_lists_and_every_kind_of_call_to_action():
    article = parse_one("text/title-line.txt")
    assert article.title == "Winter Running Tips From Our Sports Therapists"
    assert article.slug == "title-line"
    assert [block.type for block in article.blocks] == [
        "paragraph", "heading", "paragraph", "paragraph", "heading", "list", "paragraph",
    ]  # fmt: skip
    assert article.blocks[0].text == (
        "Dark mornings and icy pavements don't have to mean the end of your training. "
        "With a few changes you can keep running safely right through to spring."
    )
    assert '"I\'d rather you ran slower on ice than not at all."' in article.blocks[-1].text
    assert [(cta.kind, cta.url) for cta in article.ctas] == [
        ("read_more", SITE),
        ("article_ref", f"{SITE}/articles/glutes-and-sciatica"),
        ("booking", f"{SITE}/book"),
    ]
    [warning] = article.warnings
    assert warning.line == 9
    assert "The picture above shows" in warning.message


def test_blog_copy_with_a_question_for_a_title():
    article = parse_one("text/question-title.txt")
    assert article.title == "Can Massage Help My Sciatica?"
    assert len(article.paragraphs) == 2
    assert "\u00a0" not in article.paragraphs[1] and "  " not in article.paragraphs[1]
    assert [cta.kind for cta in article.ctas] == ["booking"]
    assert article.warnings == ()


def test_blog_copy_without_a_title_line_takes_the_file_name():
    article = parse_one("text/sitting-and-your-hips.txt")
    assert article.title == "Sitting and your hips"
    assert [(w.line, w.message.split(":")[0]) for w in article.warnings] == [
        (1, 'no title line'),
        (5, '"As you can see in the diagram below, the hip flexors attach ..." refers to a picture '
            "that is not in the article"),
        (7, "no article matches the reference 'knee replacement rehab'; it links to the website"),
    ]  # fmt: skip


def test_blog_copy_without_a_title_line_or_telling_name_takes_the_first_sentence():
    article = parse_one("text/post-3.txt")
    assert article.title.startswith("We're delighted to welcome a new physiotherapist")
    assert "first sentence" in article.warnings[0].message
    assert [cta.text for cta in article.ctas] == [
        "To book, call reception or use our online booking page"
    ]


def test_house_markdown_file():
    article = parse_one("markdown/hamstrings-and-back-pain.md")
    assert article.slug == "hamstrings-and-back-pain"
    assert article.source_path == "markdown/hamstrings-and-back-pain.md"
    assert [cta.kind for cta in article.ctas] == ["link", "article_ref", "booking"]
    assert [warning.line for warning in article.warnings] == [10, 35]


def test_html_page_file():
    article = parse_one("html/shoulder-tension.html")
    assert article.title == "Shoulder tension and how to ease it"
    assert article.published.isoformat() == "2026-04-15"
    text = " ".join(block.text for block in article.blocks)
    for boilerplate in ("cookies", "Popular posts", "Privacy policy", "All rights reserved"):
        assert boilerplate not in text
    assert [block.type for block in article.blocks].count("image") == 1


def test_feed_files():
    rss = parse_path(FIXTURES / "feeds/clinic-blog.rss", LINKS)
    atom = parse_path(FIXTURES / "feeds/clinic-news.atom", LINKS)
    assert [article.slug for article in rss] == ["stretching-after-a-long-run", "scar-care"]
    assert [article.slug for article in atom] == ["evening-appointments", "desk-stretches"]


@pytest.mark.parametrize(
    ("name", "line", "message"),
    [
        ("empty.txt", None, "the file is empty"),
        ("blank.md", None, "the file is empty"),
        ("photo.md", None, "binary file"),
        ("windows-1252.txt", 3, "not UTF-8"),
        ("broken-front-matter.md", 3, "front matter is not YAML"),
        ("list-front-matter.md", 2, "not YAML 'key: value' pairs"),
        ("unclosed-front-matter.md", 1, "never closed"),
        ("no-title.md", 1, "no usable title"),
        ("bad-slug.md", 3, "must be lower-case words joined by hyphens"),
        ("bad-date.md", 3, "is not a date"),
        ("broken-feed.xml", None, "not an RSS or Atom feed"),
    ],
)
def test_bad_files_are_refused_in_one_line_naming_the_file_and_line(name, line, message):
    with pytest.raises(ContentError) as caught:
        parse_path(FIXTURES / "bad" / name, LINKS, name=f"bad/{name}")
    text = str(caught.value)
    where = f"bad/{name}:{line}: " if line else f"bad/{name}: "
    assert text.startswith(where)
    assert message in text
    assert "\n" not in text


def test_a_missing_file_and_a_folder_are_refused():
    with pytest.raises(ContentError, match="no such file"):
        parse_path(FIXTURES / "nothing-here.md", LINKS)
    with pytest.raises(ContentError, match="is a folder"):
        parse_path(FIXTURES / "text", LINKS)


CONTENT_TYPES = {
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".html": "text/html",
}


class _FixtureHandler(BaseHTTPRequestHandler):
    """Serves the fixtures with real content types; /hang answers only when the test ends."""

    released = threading.Event()

    def do_GET(self) -> None:
        if self.path == "/hang":
            self.released.wait(30)
            return
        path = FIXTURES / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPES.get(path.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        """Quiet: the test output is not a server log."""


@pytest.fixture
def fixture_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FixtureHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FixtureHandler.released.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _FixtureHandler.released.set()
    server.shutdown()
    server.server_close()
    thread.join()


def test_feed_by_url(fixture_server):
    articles = parse_source(f"{fixture_server}/feeds/clinic-blog.rss", LINKS, allow_private=True)
    assert [article.title for article in articles] == [
        "Stretching after a long run",
        "Looking after your scar after surgery",
    ]
    assert articles[0].source_path == f"{fixture_server}/feeds/clinic-blog.rss"
    assert articles[0].hero_image == f"{SITE}/images/stretch.jpg"


def test_atom_feed_by_url(fixture_server):
    articles = parse_source(f"{fixture_server}/feeds/clinic-news.atom", LINKS, allow_private=True)
    assert len(articles) == 2


def test_page_by_url_takes_its_slug_from_the_address(fixture_server):
    [article] = parse_source(
        f"{fixture_server}/html/shoulder-tension.html", LINKS, allow_private=True
    )
    assert article.slug == "shoulder-tension"
    assert article.source_kind == "html"


def test_a_missing_page_is_reported_with_its_status(fixture_server):
    with pytest.raises(ContentError, match="answered HTTP 404"):
        parse_source(f"{fixture_server}/feeds/gone.rss", LINKS, allow_private=True)


def test_a_server_that_does_not_answer_times_out(fixture_server):
    with pytest.raises(ContentError, match=r"did not answer within 0\.5 seconds"):
        parse_source(f"{fixture_server}/hang", LINKS, timeout=0.5, allow_private=True)


def test_a_server_that_is_not_there_is_reported():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FixtureHandler)
    port = server.server_address[1]
    server.server_close()
    with pytest.raises(ContentError, match="could not fetch"):
        parse_source(f"http://127.0.0.1:{port}/feed.rss", LINKS, allow_private=True)
