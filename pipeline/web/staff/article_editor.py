"""Adding and editing articles in the staff app: paste text, upload a file or give a page or
feed address; the parse, its warnings and its relevance per segment are shown before anything
is saved. Articles from content/ files stay read-only here, as campaign files do."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path, PurePath

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from pipeline.content import content_hash, is_url, parse_bytes, workspace_links
from pipeline.content.sources import KINDS_BY_SUFFIX, fetch
from pipeline.content.sync import CONTENT_FOLDER
from pipeline.content.text import slugify
from pipeline.errors import ClinicmailError, InputError, StateError
from pipeline.models import Article
from pipeline.segments import score_article
from pipeline.store.articles import (
    article_slugs,
    article_source_text,
    get_article,
    save_article_with_source,
)
from pipeline.web.staff.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)
KINDS = {
    "": "Recognise it",
    "markdown": "Markdown",
    "text": "Plain text",
    "html": "HTML",
    "feed": "RSS or Atom feed",
}
PASTED = "pasted text"


@dataclass(frozen=True)
class ArticleSource:
    """The text an article is parsed from, what kind of text it is, and what it is called in
    warnings and on the article's page (the file's name, the address, or "pasted text")."""

    text: str
    kind: str
    name: str

    def parse(self, request: Request) -> list[Article]:
        settings, engine = request.app.state.settings, request.app.state.engine
        links = workspace_links(settings, engine)
        source_url = self.name if is_url(self.name) else None
        articles = parse_bytes(self.text.encode(), self.name, links, self.kind or None, source_url)
        if self.name != PASTED:
            return articles
        # Pasted text has no file name to take an address name from: the title gives it,
        # unless the text names its own slug.
        return [
            _titled(article) if article.slug == slugify(PurePath(PASTED).stem) else article
            for article in articles
        ]


def _titled(article: Article) -> Article:
    named = replace(article, slug=slugify(article.title))
    return replace(named, content_hash=content_hash(named))


def is_read_only(article: Article) -> bool:
    """Articles from content/ change in their files (and a sync), never in the app."""
    return (article.source_path or "").startswith(CONTENT_FOLDER + "/")


async def _source_from_form(form: FormData) -> ArticleSource:
    """What staff gave: an uploaded file, else an address to fetch, else the text box."""
    kind = str(form.get("kind", ""))
    if kind not in KINDS:
        raise InputError(f"unknown kind of text {kind!r}")
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        name = Path(upload.filename).name
        suffix = Path(name).suffix.lower()
        if suffix not in KINDS_BY_SUFFIX:
            raise InputError(f"{name}: choose a Markdown (.md), text (.txt) or HTML (.html) file")
        data = await upload.read()
        await upload.close()
        return ArticleSource(_text(data, name), KINDS_BY_SUFFIX[suffix], name)
    address = str(form.get("url", "")).strip()
    if address:
        if not is_url(address):
            raise InputError(f"{address!r} is not a web address: it starts with https://")
        data, content_type = fetch(address)
        fetched = "feed" if re.search(r"(rss|atom|xml)", content_type, re.I) else "html"
        return ArticleSource(_text(data, address), fetched, address)
    text = str(form.get("text", ""))
    if not text.strip():
        raise InputError("paste the article's text, choose a file or give its address")
    return ArticleSource(text.replace("\r\n", "\n"), kind, str(form.get("name") or PASTED))


def _text(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{name}: not UTF-8 text; save it as UTF-8 and try again") from None


def _relevance_rows(request: Request, articles: list[Article]) -> list[dict]:
    segments = request.app.state.settings.segments
    rows = []
    for article in articles:
        relevance = score_article(article, segments)
        rows.append(
            {
                "article": article,
                "fits": [
                    {
                        "segment": segment,
                        "relevance": relevance[segment.name],
                        "best": [number + 1 for number in relevance[segment.name].paragraphs[:3]],
                    }
                    for segment in segments
                    if segment.name in relevance
                ],
            }
        )
    return rows


def _editor(
    request: Request,
    source: ArticleSource | None,
    *,
    editing: str = "",
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    parsed: list[Article] = []
    if source is not None and error is None:
        try:
            parsed = source.parse(request)
        except ClinicmailError as problem:
            error = str(problem)
    context = {
        "source": source,
        "kinds": KINDS,
        "editing": editing,
        "error": error,
        "previews": _relevance_rows(request, parsed),
    }
    return render(request, "article_editor.html", context, status_code=status_code)


@router.get("/content/add")
def add_article_page(request: Request) -> Response:
    return _editor(request, None)


@router.post("/content/preview")
async def preview_article(request: Request) -> Response:
    """Parse what staff gave and show it, with warnings and relevance; nothing is saved."""
    form = await request.form()
    editing = str(form.get("editing", ""))
    try:
        source = await _source_from_form(form)
    except ClinicmailError as problem:
        return _editor(request, None, editing=editing, error=str(problem), status_code=422)
    return _editor(request, source, editing=editing)


@router.post("/content/save")
async def save_article(request: Request) -> Response:
    form = await request.form()
    editing = str(form.get("editing", ""))
    source = ArticleSource(
        str(form.get("text", "")).replace("\r\n", "\n"),
        str(form.get("kind", "")),
        str(form.get("name") or PASTED),
    )
    try:
        articles = source.parse(request)
        slugs = _refuse_clashes(request, articles, editing)
    except ClinicmailError as problem:
        return _editor(request, source, editing=editing, error=str(problem), status_code=422)
    kept = source.text if len(articles) == 1 else ""
    with request.app.state.engine.begin() as conn:
        for article in articles:
            save_article_with_source(conn, article, kept)
    if len(slugs) == 1:
        flash(request, f"Saved “{articles[0].title}”.")
        return redirect(f"/content/{slugs[0]}")
    flash(request, f"Saved {len(slugs)} articles from {source.name}.")
    return redirect("/content")


def _refuse_clashes(request: Request, articles: list[Article], editing: str) -> list[str]:
    """A new article never replaces another by taking its slug; an edit keeps its own."""
    with request.app.state.engine.connect() as conn:
        existing = article_slugs(conn)
    for article in articles:
        if editing and article.slug != editing:
            raise InputError(
                f"the article's address name changed from {editing!r} to {article.slug!r}; "
                "keep the title (or the slug line) as it was, or add it as a new article"
            )
        if article.slug in existing:
            where = existing[article.slug] or "the app"
            if (where or "").startswith(CONTENT_FOLDER + "/"):
                raise StateError(
                    f"“{article.title}” has the same address name ({article.slug}) as "
                    f"{where}, which only changes in its file; give this one another title"
                )
            if not editing:
                raise StateError(
                    f"an article called {article.slug!r} exists already (from {where}): "
                    "edit that one, or give this one another title"
                )
    return [article.slug for article in articles]


@router.get("/content/{slug}/edit")
def edit_article_page(request: Request, slug: str) -> Response:
    with request.app.state.engine.connect() as conn:
        article = get_article(conn, slug)
        text = article_source_text(conn, slug)
    if is_read_only(article):
        raise StateError(
            f"“{article.title}” comes from {article.source_path}: change that file, then press "
            "“Sync from content/” on the Content page"
        )
    if not text:
        raise StateError(
            f"“{article.title}” was imported without its text; add it again from "
            f"{article.source_path or 'its source'} on the “Add an article” page"
        )
    source = ArticleSource(text, article.source_kind, article.source_path or PASTED)
    return _editor(request, source, editing=slug)
