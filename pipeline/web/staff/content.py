"""The content pages: articles with their parse warnings and how well each fits each segment."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipeline.content import sync_content
from pipeline.errors import ClinicmailError
from pipeline.segments import score_article
from pipeline.store.articles import get_article, list_articles
from pipeline.web.staff.article_editor import is_read_only
from pipeline.web.staff.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False)


@router.get("/content")
def content_page(request: Request) -> Response:
    settings = request.app.state.settings
    segments = settings.segments
    with request.app.state.engine.connect() as conn:
        articles = list_articles(conn)
    rows = [
        {"article": article, "relevance": score_article(article, segments)} for article in articles
    ]
    return render(request, "content.html", {"rows": rows, "segments": segments})


@router.post("/content/sync")
def content_sync(request: Request) -> Response:
    """Re-read content/ into the database, as `clinicmail content sync` does."""
    try:
        report = sync_content(request.app.state.engine, request.app.state.settings)
    except ClinicmailError as problem:
        flash(request, f"Nothing was changed: {problem}", "error")
        return redirect("/content")
    flash(
        request,
        f"Content synced: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged.",
    )
    return redirect("/content")


@router.get("/content/{slug}")
def article_page(request: Request, slug: str) -> Response:
    settings = request.app.state.settings
    segments = settings.segments
    with request.app.state.engine.connect() as conn:
        article = get_article(conn, slug)
    relevance = score_article(article, segments)
    paragraphs = article.paragraphs
    evidence = [
        {
            "segment": segment,
            "relevance": relevance[segment.name],
            "best": [
                (index + 1, paragraphs[index])
                for index in relevance[segment.name].paragraphs[:2]
                if index < len(paragraphs)
            ],
        }
        for segment in segments
        if segment.name in relevance
    ]
    context = {"article": article, "evidence": evidence, "read_only": is_read_only(article)}
    return render(request, "article.html", context)
