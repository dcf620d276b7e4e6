"""Every staff page is usable on a phone: at 375 px wide none scrolls sideways. The pages are
enumerated from the app's own routes, so a new page is checked (or the test asks for an example
value for its path)."""

from __future__ import annotations

import itertools
import re

import pytest
from fastapi.routing import iter_route_contexts
from playwright.sync_api import Page, expect

from pipeline.config import load_settings
from pipeline.web.app import create_app
from tests.e2e.conftest import RunningClinic

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PHONE = 375
# GET routes that are not pages people read: JSON, downloads, and emails shown inside frames
# (an email's own layout is checked by the template tests and the previews).
NOT_PAGES = {
    "/campaigns/{slug}/progress",
    "/campaigns/{slug}/when",
    "/campaigns/{slug}/preview/{segment}",
    "/contacts/export",
    "/dashboard.csv",
    "/favicon.ico",
    "/preview-image",
    "/report/email",
    "/messages/{message_id}/html",
}
PUBLIC_MODULES = ("pipeline.web.public", "pipeline.web.webhooks")
# Elements sticking out past the right edge, for the failure message.
OVERFLOWING = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .filter(e => !e.closest('.table-wrap, .preview'))
  .slice(0, 5)
  .map(e => e.tagName + '.' + e.className + ': ' + (e.textContent || '').slice(0, 60))"""


def staff_pages(clinic: RunningClinic, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setenv("CLINICMAIL_SECRET_KEY", "only-to-list-routes")
    app = create_app(load_settings(clinic.workspace))
    app.state.engine.dispose()
    paths = []
    for route in iter_route_contexts(app.routes):
        if not route.methods or "GET" not in route.methods or route.endpoint is None:
            continue
        if route.endpoint.__module__.startswith(PUBLIC_MODULES):
            continue
        if route.path.startswith("/api") or route.path in NOT_PAGES:
            continue
        paths.append(route.path)
    return sorted(paths)


def _first_link(page: Page, url: str, pattern: str) -> str:
    page.goto(url)
    hrefs = page.eval_on_selector_all("main a", "links => links.map(a => a.getAttribute('href'))")
    found = [href for href in hrefs if href and re.fullmatch(pattern, href)]
    assert found, f"no link matching {pattern} on {url}"
    return found[0]


def other_user_removal(page: Page, clinic: RunningClinic, email: str) -> str:
    """The confirmation page for removing a staff user other than the owner (added here)."""
    page.goto(f"{clinic.url}/users")
    if page.locator(f"text={email}").count() == 0:
        page.fill("form[action='/users'] input[name=email]", email)
        page.click("form[action='/users'] button[type=submit]")
    return _first_link(page, f"{clinic.url}/users", r"/users/\d+/delete")


# The browser tests share one running clinic: each call pastes an article of its own title.
_pasted_articles = itertools.count(1)


def _examples(page: Page, clinic: RunningClinic) -> dict[str, str]:
    """One real value per path parameter: a campaign (made here if there is none), an article,
    and a received message (a test send makes sure there is one)."""
    page.goto(f"{clinic.url}/campaigns/new")
    page.click("text=Make draft")
    expect(page.locator(".flash.ok")).to_contain_text("Draft made")
    campaign = page.url.rsplit("/", 1)[1]
    page.click("button:text('Send a test')")
    expect(page.locator(".flash.ok")).to_contain_text("Test email sent")
    article = _first_link(page, f"{clinic.url}/content", r"/content/[^/]+")
    message = _first_link(page, f"{clinic.url}/messages", r"/messages/[^/]+")
    page.goto(f"{clinic.url}/content/add")
    title = f"Shoulders at the desk (narrow {next(_pasted_articles)})"
    page.fill("textarea[name=text]", f"{title}\n\nA desk day tightens them.\n")
    page.click("button:text('Preview')")
    page.click("button:text('Save article')")
    expect(page.locator(".flash.ok")).to_contain_text("Saved")
    pasted = page.url.removeprefix(clinic.url)
    return {
        "/campaigns/{slug}": f"/campaigns/{campaign}",
        "/campaigns/{slug}/edit": f"/campaigns/{campaign}/edit",
        "/campaigns/{slug}/cancel": f"/campaigns/{campaign}/cancel",
        "/users/{user_id}/delete": other_user_removal(page, clinic, "narrow@clinic.example"),
        "/content/{slug}": article,
        "/content/{slug}/edit": f"{pasted}/edit",
        "/messages/{message_id}": message,
    }


def _assert_no_sideways_scroll(page: Page, url: str) -> None:
    page.goto(url)
    width = page.evaluate("document.documentElement.scrollWidth")
    view = page.evaluate("document.documentElement.clientWidth")
    assert width <= view, f"{url} is {width} px wide at {view} px: {page.evaluate(OVERFLOWING)}"


@pytest.mark.parametrize("staff_page", [PHONE], indirect=True)
def test_no_staff_page_scrolls_sideways_at_375_px(
    staff_page: Page, clinic: RunningClinic, monkeypatch: pytest.MonkeyPatch
):
    examples = _examples(staff_page, clinic)
    pages = staff_pages(clinic, monkeypatch)
    assert "/" in pages and "/users" in pages and "/campaigns/{slug}" in pages
    for path in pages:
        if "{" in path:
            assert path in examples, f"add an example value for {path} to this test"
            path = examples[path]
        _assert_no_sideways_scroll(staff_page, clinic.url + path)


def test_sign_in_page_fits_a_phone(browser, clinic: RunningClinic):
    context = browser.new_context(viewport={"width": PHONE, "height": 800})
    page = context.new_page()
    _assert_no_sideways_scroll(page, f"{clinic.url}/login")
    context.close()
