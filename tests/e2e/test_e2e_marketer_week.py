"""A marketer's week in the staff app, in Chromium, with no command in between: paste an article,
see its relevance, make a campaign, edit the athletes' subject and excerpt, preview at 375 px,
send a test, approve, schedule it for the next allowed slot, watch it send with live figures,
filter contacts to the post-op segment, unsubscribe one client at their request, and see that
client skipped in the next campaign. At 375 px wide every page it opens, and then every staff
page there is, must not scroll sideways nor squeeze a table cell below 6 characters."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import STARTUP_LIMIT_S, RunningClinic, words_broken_across_lines
from tests.e2e.test_e2e_narrow import NOT_PAGES, _first_link, other_user_removal, staff_pages

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PHONE = 375
SENT_LIMIT_MS = STARTUP_LIMIT_S * 1000
# Cells the page shows that are narrower than 6 characters of their own font, and whether the
# page scrolls sideways: what a phone reader would trip on.
PHONE_PROBLEMS = """() => {
  const page = document.scrollingElement;
  const probe = document.createElement('span');
  probe.textContent = '000000';
  Object.assign(probe.style, {position: 'absolute', visibility: 'hidden', whiteSpace: 'nowrap'});
  document.body.appendChild(probe);
  const narrow = [];
  for (const cell of document.querySelectorAll('td, th')) {
    const style = getComputedStyle(cell);
    const box = cell.getBoundingClientRect();
    if (box.width === 0 || box.height === 0 || style.visibility === 'hidden') continue;
    const content = box.width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    probe.style.font = style.font;
    const sixCharacters = probe.getBoundingClientRect().width;
    if (content < sixCharacters) {
      narrow.push(`${cell.tagName} ${Math.round(content)} px < ${Math.round(sixCharacters)} px: `
        + (cell.textContent || '').trim().slice(0, 40));
    }
  }
  probe.remove();
  return {scrollWidth: page.scrollWidth, clientWidth: page.clientWidth, narrow: narrow.slice(0, 5)};
}"""


class Week:
    """The browser page, the width it runs at, and the phone checks on every page it opens."""

    def __init__(self, page: Page, clinic: RunningClinic, artifacts, width: int):
        self.page, self.clinic, self.artifacts, self.width = page, clinic, artifacts, width
        self.checked: set[str] = set()

    def check_phone(self) -> None:
        # Scripts are deferred: a field filled before they run would change unseen.
        self.page.wait_for_load_state()
        if self.width != PHONE:
            return
        found = self.page.evaluate(PHONE_PROBLEMS)
        where = self.page.url.removeprefix(self.clinic.url)
        assert found["scrollWidth"] <= found["clientWidth"], (
            f"{where} scrolls sideways at {PHONE} px: {found['scrollWidth']} px wide"
        )
        assert not found["narrow"], f"{where} has cells narrower than 6 characters: {found}"
        self.checked.add(re.sub(r"\?.*", "", where))

    def open(self, path: str) -> None:
        self.page.goto(self.clinic.url + path)
        self.check_phone()

    def shot(self, name: str) -> None:
        self.page.screenshot(
            path=str(self.artifacts / f"week-{self.width}-{name}.png"), full_page=True
        )


def _article(width: int) -> str:
    return f"""Race-day legs: massage before a marathon ({width})

Runners often ask when to book a sports massage before race day.

For athletes training for a marathon, a light sports massage two or three days before the race
loosens tight calves and hamstrings, and runners feel it on the start line.

Deep tissue work the day before a race leaves runners sore, so we book it a week out instead.

After surgery, gentle massage waits until your surgeon agrees; ask us at reception.
"""


def _figure(page: Page, name: str) -> int:
    return int(page.locator(f'[data-figure="{name}"]').first.inner_text().replace(",", ""))


@pytest.mark.parametrize("staff_page", [1280, PHONE], indirect=True)
def test_a_marketers_week_without_the_command_line(
    staff_page: Page, clinic: RunningClinic, artifacts, monkeypatch: pytest.MonkeyPatch
):
    page = staff_page
    width = page.viewport_size["width"]
    week = Week(page, clinic, artifacts, width)

    # 1. Paste an article, and preview it before saving.
    week.open("/content")
    page.click("text=Add an article")
    week.check_phone()
    page.fill("textarea[name=text]", _article(width))
    page.click("button:text('Preview')")
    expect(page.locator(".article-preview h2")).to_contain_text("Race-day legs")
    week.check_phone()

    # 2. Its relevance per segment: the athletes fit best, and nothing is saved yet.
    athletes = float(page.locator('[data-relevance="athletes"]').inner_text())
    desk = float(page.locator('[data-relevance="desk_workers"]').inner_text())
    assert athletes > 0 and athletes > desk
    week.shot("1-article-preview")
    page.click("button:text('Save article')")
    expect(page.locator(".flash.ok")).to_contain_text("Saved “Race-day legs")
    article_path = page.url.removeprefix(clinic.url)
    week.check_phone()

    # 3. Make a campaign from it.
    page.click("text=Make a campaign from this article")
    page.fill("input[name=name]", f"Race-day legs ({width})")
    page.click("text=Make draft")
    expect(page.locator(".flash.ok")).to_contain_text("Draft made")
    campaign_url = page.url
    week.check_phone()

    # 4. Edit the athletes' subject and excerpt; the editor saves as it goes.
    page.click("text=Edit subject, excerpt and segments")
    week.check_phone()
    subject = f"Your legs on race day ({width})"
    page.fill("input[name='subject.athletes']", subject)
    expect(page.locator("#editor-status")).to_have_text("Saved.")
    page.click("#edit-athletes summary")
    page.check("#edit-athletes input[name='excerpt.athletes'][value='2']")
    expect(page.locator("#editor-status")).to_have_text("Saved.")

    # 5. The preview at 375 px shows the chosen paragraph, with the checks beside it.
    page.click("[data-preview-segment=athletes]")
    phone_frame = page.locator(".editor-preview .preview.mobile iframe")
    phone_frame.scroll_into_view_if_needed()
    assert phone_frame.bounding_box()["width"] == pytest.approx(375, abs=2)
    body = page.frame_locator(".editor-preview .preview.mobile iframe").locator("body")
    expect(body).to_contain_text("two or three days before the race")
    expect(body).not_to_contain_text("Deep tissue work the day before")
    expect(page.locator("#findings li").first).to_be_visible()
    week.shot("2-editor-preview")
    page.goto(campaign_url)
    expect(page.locator("#main")).to_contain_text(subject)

    # 6. Send a test of the athletes' variant to oneself.
    page.select_option("select[name=segment]", "athletes")
    page.click("button:text('Send a test')")
    expect(page.locator(".flash.ok")).to_contain_text("Test email sent")

    # 7. Approve.
    page.click("button:text('Approve')")
    expect(page.locator(".flash.ok")).to_contain_text("Approved. Now choose when it goes out.")
    week.check_phone()

    # 8. The schedule form proposes the next allowed slot (this clinic has no quiet hours and
    # proposes a minute ahead) and explains it, and a past time, before anything is submitted.
    explanation = page.locator("#schedule-explanation")
    expect(explanation).to_contain_text(re.compile(r"^Goes out \d\d:\d\d (today|tomorrow)\."))
    proposed_day = page.locator("input[name=day]").input_value()
    proposed_clock = page.locator("input[name=clock]").input_value()
    page.fill("input[name=day]", "2020-01-01")
    page.locator("input[name=day]").dispatch_event("change")
    expect(explanation).to_contain_text("That time has passed: choose a later one.")
    assert "--at" not in page.content()
    page.fill("input[name=day]", proposed_day)
    page.locator("input[name=day]").dispatch_event("change")
    expect(explanation).to_contain_text(f"Goes out {proposed_clock}")
    page.click("button:text('Schedule')")
    expect(page.locator(".flash.ok")).to_contain_text(f"Scheduled. Goes out {proposed_clock}")
    expect(page.locator("[data-state]").first).to_have_text("scheduled")
    week.check_phone()

    # 9. Watch it send: state, totals and the per-segment table follow without a reload, from
    # scheduled through sending to the deliveries.
    page.evaluate("window.loadedOnce = true")
    athletes_row = page.locator('#progress tr[data-segment="athletes"]')
    expect(page.locator("[data-state]").first).to_have_text("sent", timeout=SENT_LIMIT_MS * 2)
    expect(page.locator('[data-figure="delivered"]')).not_to_have_text("0", timeout=60_000)
    expect(athletes_row.locator("[data-segment-figure=delivered]")).not_to_have_text("0")
    assert page.evaluate("window.loadedOnce === true"), "the page reloaded"
    assert _figure(page, "sent") > 100
    week.check_phone()
    if width != PHONE:
        # The per-segment table's headings, labels and numbers are never broken inside a word.
        assert words_broken_across_lines(page, "#progress th, #progress td") == []
    page.locator("#progress").screenshot(path=str(artifacts / f"week-{width}-3-live-figures.png"))
    week.shot("3-sent-live")

    # 10. Contacts in the post-op segment (mailable ones).
    week.open("/contacts")
    page.select_option("select[name=segment]", "post_op")
    page.select_option("select[name=mailable]", "yes")
    page.click("button:text('Show')")
    expect(page.locator("#search-summary")).to_contain_text("matching these filters")
    week.check_phone()
    segments = page.locator('#search-results td[data-label="Segments"]').all_inner_texts()
    assert segments and all("Recovering from surgery" in cell for cell in segments)
    week.shot("4-contacts-post-op")

    # 11. One of them phoned to be unsubscribed.
    page.locator("#search-results tbody tr").first.locator("a").first.click()
    address = page.locator("#contact h1 .hint").inner_text().strip()
    page.select_option("#staff-unsubscribe select[name=asked]", "phone")
    page.fill("#staff-unsubscribe input[name=note]", "rang reception on Monday")
    page.click("button:text('Unsubscribe them')")
    expect(page.locator(".flash.ok")).to_contain_text("is unsubscribed (asked by phone")
    expect(page.locator("#consent-history")).to_contain_text("rang reception on Monday")
    week.check_phone()

    # 12. The next campaign skips them, and says why.
    week.open("/campaigns/new")
    page.select_option(
        "select[name=article]", label=f"Race-day legs: massage before a marathon ({width})"
    )
    page.fill("input[name=name]", f"Race-day legs, again ({width})")
    page.click("text=Make draft")
    expect(page.locator(".flash.ok")).to_contain_text("Draft made")
    next_url = page.url
    page.goto(f"{next_url}?{urlencode({'who': address})}")
    expect(page.locator("#who-gets-it")).to_contain_text("will be skipped")
    expect(page.locator("#who-gets-it")).to_contain_text("unsubscribed")
    week.check_phone()
    week.shot("5-next-campaign-skips")

    # Every staff page at 375 px, with the clinic's 2,000 clients.
    if width == PHONE:
        message = _first_link(page, f"{clinic.url}/messages", r"/messages/[^/]+")
        examples = {
            "/campaigns/{slug}": campaign_url.removeprefix(clinic.url),
            "/campaigns/{slug}/edit": next_url.removeprefix(clinic.url) + "/edit",
            "/campaigns/{slug}/cancel": next_url.removeprefix(clinic.url) + "/cancel",
            "/users/{user_id}/delete": other_user_removal(page, clinic, "week@clinic.example"),
            "/content/{slug}": article_path,
            "/content/{slug}/edit": article_path + "/edit",
            "/messages/{message_id}": message,
        }
        pages = [path for path in staff_pages(clinic, monkeypatch) if path not in NOT_PAGES]
        for path in pages:
            assert "{" not in path or path in examples, f"add an example value for {path}"
            week.open(examples.get(path, path))
        assert len(week.checked) >= len(pages)
