"""The whole journey in a real browser against `clinicmail run`: sign in, make and send a
campaign from an article, watch it send to the local server, see the dashboard's figures change,
then unsubscribe through the link in a received message and see the contact suppressed, and
subscribe again: the client from the same link, and staff at the client's request."""

from __future__ import annotations

import re
import time
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import STARTUP_LIMIT_S, RunningClinic

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _figure(page: Page, name: str) -> int:
    return int(page.locator(f'[data-figure="{name}"]').first.inner_text().replace(",", ""))


def _reload_until(page: Page, clinic: RunningClinic, ready, what: str) -> None:
    """Reload the page until `ready(page)` holds; fail with the app's log if it never does."""
    deadline = time.monotonic() + STARTUP_LIMIT_S
    while time.monotonic() < deadline:
        if ready(page):
            return
        page.wait_for_timeout(1500)
        page.reload()
    pytest.fail(f"{what} never happened:\n{clinic.log_text()[-4000:]}")


def _wait_for_state(page: Page, clinic: RunningClinic, wanted: str) -> None:
    _reload_until(
        page,
        clinic,
        lambda p: p.locator("[data-state]").first.inner_text().strip() == wanted,
        f"the campaign becoming {wanted}",
    )


def _contact_url(clinic: RunningClinic, email: str) -> str:
    return f"{clinic.url}/contacts?{urlencode({'email': email})}"


def _open_unsubscribe_page_of_the_newest_recipient(page: Page, clinic: RunningClinic) -> str:
    """Follow the unsubscribe link of the newest received message and return its recipient. The
    demo simulation is seeded (DEMO_SEED), so which recipients it bounces or unsubscribes is the
    same in every run: this one is still subscribed. Pages are opened by address: a full-page
    screenshot resizes the viewport for a moment, and a click right after it can be lost."""
    page.goto(f"{clinic.url}/messages")
    newest = page.eval_on_selector_all("table a", "links => links.map(a => a.href)")[0]
    page.goto(newest)
    recipient = re.search(r"To</strong> (\S+)", page.content())[1]
    link = page.locator(".message-links a", has_text=re.compile("unsubscribe", re.I)).first
    unsubscribe_url = link.get_attribute("href")
    page.goto(_contact_url(clinic, recipient))
    expect(page.locator(".found")).to_be_visible()
    expect(page.locator(".not-mailable")).to_have_count(0)
    page.goto(unsubscribe_url)
    expect(page.locator("h1")).to_contain_text("Unsubscribe from our newsletter")
    return recipient


def test_make_schedule_send_and_unsubscribe(staff_page: Page, clinic: RunningClinic, artifacts):
    page = staff_page
    expect(page.locator("h1")).to_have_text("Dashboard")
    sent_before = _figure(page, "sent")

    # Make a campaign from an article, in the browser.
    page.click("nav >> text=Content")
    page.click("text=Why we massage your legs when it's your back that hurts")
    page.click("text=Make a campaign from this article")
    page.fill("input[name=name]", "Legs for backs (browser)")
    page.click("text=Make draft")
    expect(page.locator(".flash.ok")).to_contain_text("Draft made")
    expect(page.locator("[data-state]")).to_have_text("draft")
    campaign_url = page.url

    # Its previews render, at 600 and 375 px.
    desktop = page.locator(".preview.desktop iframe").first
    mobile = page.locator(".preview.mobile iframe").first
    desktop.scroll_into_view_if_needed()
    expect(desktop).to_have_attribute("src", re.compile(r"/preview/"))
    assert desktop.bounding_box()["width"] == pytest.approx(600, abs=2)
    assert mobile.bounding_box()["width"] == pytest.approx(375, abs=2)
    for size in ("desktop", "mobile"):
        frame = page.frame_locator(f".preview.{size} iframe").first
        expect(frame.locator("body")).to_contain_text("14 Quay Street")
    page.locator(".previews").first.screenshot(path=str(artifacts / "campaign-previews.png"))

    # Approve, then send it now. The page is opened afresh first: right after the preview frames
    # and their screenshot, a click on a button that Playwright scrolls back to was sometimes
    # lost.
    page.goto(campaign_url)
    page.click("button:text('Approve')")
    expect(page.locator(".flash.ok")).to_contain_text("Approved")
    page.click("button:text('Send now')")
    expect(page.locator(".flash.ok")).to_contain_text("Sending starts in a few seconds")

    # The worker starts it and the local server receives it.
    _wait_for_state(page, clinic, "sent")
    assert _figure(page, "sent") > 0
    page.goto(campaign_url)

    # The dashboard's figures have changed.
    page.click("nav >> text=Dashboard")
    assert _figure(page, "sent") > sent_before
    # One trend chart for all segments, and one for each segment that had engagement: the local
    # server posts its events a moment after it accepts the mail.
    _reload_until(
        page,
        clinic,
        lambda p: p.locator("figure.chart img[alt]").count() >= 2,
        "a per-segment trend chart",
    )
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

    # A received message, and the unsubscribe link in it.
    recipient = _open_unsubscribe_page_of_the_newest_recipient(page, clinic)
    unsubscribe_url = page.url
    page.click("button:text('Unsubscribe')")
    expect(page.locator("main")).to_contain_text("unsubscribed", ignore_case=True)

    # The contact is suppressed: no further campaign reaches them.
    contact_url = _contact_url(clinic, recipient)
    page.goto(contact_url)
    expect(page.locator(".not-mailable")).to_be_visible()
    expect(page.locator(".not-mailable")).to_contain_text("unsubscribed", ignore_case=True)

    # The client changes their mind from the same link, and is mailable again.
    page.goto(unsubscribe_url)
    expect(page.locator("h1")).to_have_text("You are already unsubscribed")
    page.click("button:text('Subscribe again')")
    expect(page.locator("h1")).to_have_text("You are subscribed again")
    page.goto(contact_url)
    expect(page.locator(".found .badge.ok")).to_have_text(["subscribed", "mailable"])

    # Unsubscribed once more, then added back by staff at the client's request.
    page.goto(unsubscribe_url)
    page.click("button:text('Unsubscribe')")
    page.goto(contact_url)
    page.fill("#resubscribe input[name=note]", "At reception: please send the newsletter again")
    page.click("button:text('Subscribe them again')")
    expect(page.locator(".flash.ok")).to_contain_text("subscribed again")
    expect(page.locator(".not-mailable")).to_have_count(0)
