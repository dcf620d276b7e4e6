"""What the local SendGrid-compatible server received (demo mode): the list, and each message
as its recipient sees it, with the links it holds (unsubscribe, preferences, view online)."""

from __future__ import annotations

from html.parser import HTMLParser

from fastapi import APIRouter, Request
from fastapi.responses import Response

from pipeline.devserver.mailstore import get_local_message, list_local_messages
from pipeline.web.staff.rendering import render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


class _LinkCollector(HTMLParser):
    """The links of an email's HTML, with their text, in order and without repeats."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href:
            link = (" ".join("".join(self._text).split()) or self._href, self._href)
            if link not in self.links:
                self.links.append(link)
            self._href = None


def email_links(html: str) -> list[tuple[str, str]]:
    collector = _LinkCollector()
    collector.feed(html)
    collector.close()
    return collector.links


@router.get("/messages")
def messages_page(request: Request, page: int = 1) -> Response:
    page = max(page, 1)
    settings = request.app.state.settings
    messages = list_local_messages(settings, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    context = {
        "messages": messages[:PAGE_SIZE],
        "page": page,
        "more": len(messages) > PAGE_SIZE,
    }
    return render(request, "messages.html", context)


@router.get("/messages/{message_id}")
def message_page(request: Request, message_id: str) -> Response:
    message = get_local_message(request.app.state.settings, message_id)
    context = {"message": message, "links": email_links(message.html)}
    return render(request, "message.html", context)
