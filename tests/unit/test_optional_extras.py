"""Optional dependencies: without an extra's packages, the feature that needs them says which
extra to install, and everything else still works. A package is made absent the way Python
itself records one: `sys.modules[name] = None` makes importing it fail."""

from __future__ import annotations

import importlib
import sys

import pytest

import pipeline.content
from pipeline.errors import MissingExtra
from pipeline.extras import EXTRA_MODULES, require
from pipeline.store import open_engine

IMPORT_EXTRA = "pip install 'clinicmail[import]'"
PAGE = (
    b"<!doctype html><html><head><title>Desk posture</title></head><body><article>"
    + (b"<p>Sitting all day shortens the hip flexors and pulls on the low back.</p>" * 5)
    + b"</article></body></html>"
)
FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>
<item><title>Evening appointments</title><link>https://clinic.example/news/evenings</link>
<description>We now open until eight on Thursdays.</description></item></channel></rss>"""
MARKDOWN = b"---\ntitle: Tight hamstrings\n---\n\nThe hamstrings run down the back of the thigh.\n"
TEXT = b"Why your glutes matter\n\nStrong glutes take load off the low back.\n"


@pytest.fixture
def content_without(monkeypatch: pytest.MonkeyPatch):
    """A fresh `pipeline.content` imported while the given packages are absent."""

    def fresh(*absent: str):
        for name in absent:
            monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.setattr(pipeline, "content", pipeline.content)
        for name in [name for name in sys.modules if name.startswith("pipeline.content")]:
            monkeypatch.delitem(sys.modules, name)
        return importlib.import_module("pipeline.content")

    return fresh


def _links(content):
    return content.ClinicLinks("https://clinic.example", "https://clinic.example/book", ())


def test_a_web_page_without_the_import_extra_names_the_extra(content_without):
    content = content_without("trafilatura")
    with pytest.raises(MissingExtra) as raised:
        content.parse_bytes(PAGE, "desk-posture.html", _links(content))
    assert str(raised.value) == f"importing a web page needs the 'import' extra: {IMPORT_EXTRA}"


@pytest.mark.parametrize("absent", ["feedparser", "lxml"])
def test_a_feed_without_the_import_extra_names_the_extra(content_without, absent):
    content = content_without(absent)
    with pytest.raises(MissingExtra) as raised:
        content.parse_bytes(FEED, "news.rss", _links(content))
    assert str(raised.value) == (
        f"importing an RSS or Atom feed needs the 'import' extra: {IMPORT_EXTRA}"
    )


def test_lxml_without_its_html_cleaner_names_the_extra(monkeypatch):
    """lxml re-raises its missing HTML cleaner (a separate package since lxml 5.2, which
    trafilatura needs) as a plain ImportError with advice of its own."""
    monkeypatch.setitem(sys.modules, "lxml_html_clean", None)
    monkeypatch.delitem(sys.modules, "lxml.html.clean", raising=False)
    with pytest.raises(MissingExtra) as raised:
        require("lxml.html.clean", "import", "importing a web page")
    assert str(raised.value) == f"importing a web page needs the 'import' extra: {IMPORT_EXTRA}"


def test_markdown_and_plain_text_need_no_extra(content_without):
    content = content_without(*EXTRA_MODULES["import"])
    links = _links(content)
    [markdown] = content.parse_bytes(MARKDOWN, "hamstrings.md", links)
    [text] = content.parse_bytes(TEXT, "glutes.txt", links)
    assert (markdown.slug, markdown.title) == ("hamstrings", "Tight hamstrings")
    assert (text.slug, text.title) == ("glutes", "Why your glutes matter")
    assert "pipeline.content.html" not in sys.modules
    assert "pipeline.content.feed" not in sys.modules


def test_the_import_extra_reads_pages_and_feeds_when_installed(content_without):
    content = content_without()
    [page] = content.parse_bytes(PAGE, "desk-posture.html", _links(content))
    feed = content.parse_bytes(FEED, "news.rss", _links(content))
    assert page.title == "Desk posture"
    assert [article.slug for article in feed] == ["evenings"]


def test_a_postgresql_url_without_the_postgres_extra_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingExtra) as raised:
        open_engine("postgresql://clinic@db.example/clinicmail")
    assert str(raised.value) == (
        "a PostgreSQL database needs the 'postgres' extra: pip install 'clinicmail[postgres]'"
    )


def test_sqlite_needs_no_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    engine = open_engine("sqlite:///:memory:")
    assert engine.dialect.name == "sqlite"
    engine.dispose()


def test_a_missing_module_outside_the_extra_is_not_blamed_on_it():
    with pytest.raises(ModuleNotFoundError) as raised:
        require("pipeline.no_such_module", "import", "importing a web page")
    assert raised.value.name == "pipeline.no_such_module"
