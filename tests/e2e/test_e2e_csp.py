"""Under the strict Content-Security-Policy every staff page still works in a real browser: no
violation is reported on any of them, the charts and email previews show, and the pages are
photographed for a person to look at."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RunningClinic
from tests.e2e.test_e2e_narrow import _examples, staff_pages

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_no_staff_page_breaks_the_content_security_policy(
    staff_page: Page, clinic: RunningClinic, monkeypatch: pytest.MonkeyPatch, artifacts
):
    violations: list[str] = []
    staff_page.on(
        "console",
        lambda message: (
            violations.append(f"{staff_page.url}: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    examples = _examples(staff_page, clinic)
    for path in staff_pages(clinic, monkeypatch):
        staff_page.goto(clinic.url + examples.get(path, path))
        staff_page.wait_for_load_state("load")
    assert violations == []

    staff_page.goto(clinic.url + examples["/campaigns/{slug}"])
    staff_page.locator("figure.preview iframe").first.scroll_into_view_if_needed()
    frame = staff_page.frame_locator("figure.preview iframe").first
    expect(frame.locator("body")).to_contain_text("Read the full article")
    staff_page.screenshot(path=str(artifacts / "csp-campaign.png"), full_page=True)
    staff_page.goto(clinic.url + examples["/messages/{message_id}"])
    expect(staff_page.frame_locator("figure.preview iframe").locator("body")).not_to_be_empty()
    staff_page.screenshot(path=str(artifacts / "csp-message.png"), full_page=True)
    staff_page.goto(clinic.url + "/")
    expect(staff_page.locator("figure.chart img").first).to_be_visible()
    staff_page.screenshot(path=str(artifacts / "csp-dashboard.png"), full_page=True)
    assert violations == []
