"""The owner's numbers end to end: `clinicmail run` in demo mode sends a campaign whose simulated
clicks include the booking page, and the dashboard's comparison, the campaign page, the weekly
report (read in the browser as the owner reads them) and `campaign status --json` all show the
same booking clicks, more than none."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tests.e2e.conftest import STARTUP_LIMIT_S, RunningClinic, words_broken_across_lines

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ZONE = ZoneInfo("Europe/London")  # the sample clinic's timezone
ARTICLE = "Sports massage for training and recovery"


def _number(text: str) -> int:
    return int(text.strip().replace(",", ""))


def _campaign_figure(page: Page, name: str) -> int:
    return _number(page.locator(f'#progress [data-figure="{name}"]').inner_text())


def _make_and_schedule(page: Page, clinic: RunningClinic) -> str:
    page.goto(f"{clinic.url}/content")
    page.click(f"text={ARTICLE}")
    page.click("text=Make a campaign from this article")
    page.fill("input[name=name]", "Training recovery (owner's numbers)")
    page.click("text=Make draft")
    expect(page.locator(".flash.ok")).to_contain_text("Draft made")
    campaign_url = page.url
    page.click("button:text('Approve')")
    expect(page.locator(".flash.ok")).to_contain_text("Approved")
    page.click("button:text('Send now')")
    expect(page.locator(".flash.ok")).to_contain_text("Sending starts in a few seconds")
    return campaign_url


def _open(page: Page, url: str) -> None:
    """Open `url`; while a campaign sends, its page reloads itself when the state changes, which
    can cut a navigation short: then the page that reload brought is the one we read."""
    try:
        page.goto(url)
    except PlaywrightError as error:
        if "interrupted by another navigation" not in str(error):
            raise
        page.wait_for_load_state()


def _settled_booking_clicks(page: Page, clinic: RunningClinic, campaign_url: str) -> int:
    """The campaign's booking clicks once sending is over and the local server's webhook posts
    have stopped changing the figures (two reads a few seconds apart agree)."""
    deadline = time.monotonic() + STARTUP_LIMIT_S
    previous = None
    while time.monotonic() < deadline:
        _open(page, campaign_url)
        state = page.locator("[data-state]").first.inner_text().strip()
        figures = tuple(
            _campaign_figure(page, name) for name in ("delivered", "clicks", "booking_clicks")
        )
        if state == "sent" and figures[2] > 0 and figures == previous:
            return figures[2]
        previous = figures if state == "sent" else None
        page.wait_for_timeout(3000)
    pytest.fail(f"booking clicks never settled above 0:\n{clinic.log_text()[-4000:]}")


def _status_json(clinic: RunningClinic, slug: str) -> dict:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CLINICMAIL_", "SENDGRID_"))
    }
    environment |= {
        "CLINICMAIL_WORKSPACE": str(clinic.workspace),
        "CLINICMAIL_SECRET_KEY": "e2e-secret-key",
    }
    command = [str(Path(sys.executable).with_name("clinicmail")), "campaign", "status", slug]
    finished = subprocess.run(
        [*command, "--json"], env=environment, capture_output=True, text=True, check=True
    )
    return json.loads(finished.stdout)


def test_booking_clicks_agree_everywhere(staff_page: Page, clinic: RunningClinic, artifacts):
    page = staff_page
    campaign_url = _make_and_schedule(page, clinic)
    slug = campaign_url.rstrip("/").rsplit("/", 1)[1]
    on_campaign_page = _settled_booking_clicks(page, clinic, campaign_url)
    assert on_campaign_page > 0
    expect(page.locator("#progress")).to_contain_text("booking")

    page.goto(f"{clinic.url}/?sort=booking_clicks&dir=desc")
    row = page.locator(f'table.compare tr[data-campaign="{slug}"]')
    on_dashboard = _number(row.locator('[data-figure="booking_clicks"]').inner_text())
    bookings_on_dashboard = _number(row.locator('[data-figure="bookings"]').inner_text())
    page.screenshot(path=str(artifacts / "dashboard-comparison.png"), full_page=True)

    today = datetime.now(ZONE).date()
    monday = today - timedelta(days=today.weekday())
    page.goto(f"{clinic.url}/report?week={monday.isoformat()}")
    expect(page.locator("h1")).to_contain_text(f"{monday:%-d %b}")
    report = page.frame_locator("iframe").first
    total_row = report.locator(f'tr[data-campaign-total="{slug}"] td')
    expect(total_row.first).to_have_text("All")
    # Columns: segment, delivered, opened, booking clicks, then bookings and revenue.
    in_report = _number(total_row.nth(3).inner_text())
    bookings_in_report = _number(total_row.nth(4).inner_text())

    status = _status_json(clinic, slug)["totals"]
    assert (on_dashboard, in_report, status["booking_clicks"]) == (on_campaign_page,) * 3

    # Demo mode made up bookings for some booking clickers: the same count on each page.
    _open(page, campaign_url)
    bookings_on_campaign_page = _campaign_figure(page, "bookings")
    assert bookings_on_dashboard == bookings_on_campaign_page == status["bookings"]
    assert bookings_in_report == status["bookings"]


@pytest.mark.parametrize("width", [375, 600])
def test_the_weekly_report_reads_at_phone_and_email_widths(
    browser, clinic: RunningClinic, artifacts, width: int
):
    """The report's HTML as a mail client shows it: no table wider than the screen, no heading
    or number broken inside a word."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{clinic.url}/login")
    page.fill("input[name=email]", clinic.owner)
    page.fill("input[name=password]", clinic.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{clinic.url}/")
    monday = date.today() - timedelta(days=date.today().weekday())
    page.goto(f"{clinic.url}/report/email?week={monday.isoformat()}")
    page.screenshot(path=str(artifacts / f"weekly-report-{width}.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert words_broken_across_lines(page, "th, td") == []
    context.close()
