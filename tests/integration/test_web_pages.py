"""The staff pages over a real database: content, making a campaign from an article, its page
(plan, previews, checks), lifecycle actions, the dashboard and the received-mail pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from pipeline.content import sync_content
from pipeline.store import campaign_states as lifecycle_store
from pipeline.store.contacts import get_contact
from pipeline.store.types import utcnow

ARTICLE = "full-treatment-for-back-pain"


@pytest.fixture
def synced(web_app):
    sync_content(web_app.state.engine, web_app.state.settings)
    return web_app


def _make_campaign(client, article: str = ARTICLE, **extra) -> str:
    response = client.post(
        "/campaigns/new",
        data={"article": article, "name": "Legs and backs", "csrf_token": client.csrf, **extra},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["location"].removeprefix("/campaigns/")


def test_content_page_lists_articles_with_relevance_per_segment(synced, signed_in):
    page = signed_in.get("/content")
    assert page.status_code == 200
    assert f'href="/content/{ARTICLE}"' in page.text
    article = signed_in.get(f"/content/{ARTICLE}")
    assert "Relevance per segment" in article.text
    assert "Desk workers" in article.text or "desk" in article.text.lower()


def test_content_sync_button_reports_what_changed(web_app, signed_in):
    response = signed_in.post("/content/sync", data={"csrf_token": signed_in.csrf})
    assert response.status_code == 200
    assert re.search(r"Content synced: \d+ added", response.text)


def test_a_campaign_made_in_the_browser_is_stored_with_origin_web(synced, signed_in):
    slug = _make_campaign(signed_in)
    assert slug.startswith(ARTICLE + "-")
    with synced.state.engine.connect() as conn:
        campaign = lifecycle_store.find_campaign(conn, slug)
    assert campaign.origin == "web" and campaign.state == "draft"
    assert campaign.name == "Legs and backs"
    page = signed_in.get(f"/campaigns/{slug}")
    assert page.status_code == 200
    assert "Plan" in page.text and "Checks" in page.text
    frames = re.findall(r'src="(/campaigns/[^"]+/preview/[^"]+)"', page.text)
    assert frames, "no previews on the campaign page"
    preview = signed_in.get(frames[0])
    assert preview.status_code == 200
    assert "sandbox" in preview.headers["content-security-policy"]
    assert "<html" in preview.text.lower()


def test_an_unknown_article_is_refused_with_a_message(synced, signed_in):
    response = signed_in.post(
        "/campaigns/new", data={"article": "no-such-article", "csrf_token": signed_in.csrf}
    )
    assert "The campaign was not made" in response.text


def test_approve_schedule_pause_resume_and_cancel_from_the_page(synced, signed_in):
    slug = _make_campaign(signed_in)
    approved = signed_in.post(f"/campaigns/{slug}/approve", data={"csrf_token": signed_in.csrf})
    assert "Approved. Now choose when it goes out." in approved.text
    local_today = utcnow().astimezone(synced.state.settings.clinic.zone).date()
    day = (local_today + timedelta(days=1)).isoformat()
    scheduled = signed_in.post(
        f"/campaigns/{slug}/schedule",
        data={"day": day, "clock": "10:00", "csrf_token": signed_in.csrf},
    )
    assert "Scheduled. Goes out 10:00 tomorrow." in scheduled.text
    paused = signed_in.post(f"/campaigns/{slug}/pause", data={"csrf_token": signed_in.csrf})
    assert "Paused: nothing more goes out until you resume it." in paused.text
    resumed = signed_in.post(f"/campaigns/{slug}/resume", data={"csrf_token": signed_in.csrf})
    assert "Resumed: it goes out 10:00 tomorrow." in resumed.text
    cancelled = signed_in.post(
        f"/campaigns/{slug}/cancel", data={"csrf_token": signed_in.csrf, "confirmed": "yes"}
    )
    assert "Cancelled" in cancelled.text
    again = signed_in.post(f"/campaigns/{slug}/approve", data={"csrf_token": signed_in.csrf})
    assert "It cannot be approved now: it was cancelled." in again.text


def test_scheduling_in_the_past_is_refused_with_the_reason(synced, signed_in):
    slug = _make_campaign(signed_in)
    signed_in.post(f"/campaigns/{slug}/approve", data={"csrf_token": signed_in.csrf})
    response = signed_in.post(
        f"/campaigns/{slug}/schedule",
        data={"day": "2020-01-01", "clock": "09:00", "csrf_token": signed_in.csrf},
    )
    assert "That time has passed: choose a later one." in response.text
    assert "--at" not in response.text


def test_campaign_list_and_progress(synced, signed_in):
    slug = _make_campaign(signed_in)
    listing = signed_in.get("/campaigns")
    assert f'href="/campaigns/{slug}"' in listing.text
    progress = signed_in.get(f"/campaigns/{slug}/progress").json()
    assert progress["state"] == "draft"
    assert progress["totals"]["sent"] == 0


def test_dashboard_shows_figures_and_a_chart(synced, signed_in):
    page = signed_in.get("/")
    assert page.status_code == 200
    assert 'data-figure="sent"' in page.text
    assert '<img class="chart-image" src="data:image/svg+xml;base64,' in page.text
    assert "Demo figures" not in page.text


def test_received_mail_page_is_empty_before_anything_is_sent(synced, signed_in):
    page = signed_in.get("/messages")
    assert page.status_code == 200
    assert "Nothing received yet" in page.text
    assert signed_in.get("/messages/nope-0").status_code == 404


def test_report_page_shows_last_weeks_report(synced, signed_in):
    page = signed_in.get("/report")
    assert page.status_code == 200
    assert "Weekly report" in page.text
    email = signed_in.get("/report/email")
    assert email.status_code == 200
    assert "data:image/png;base64," in email.text
    assert "sandbox" in email.headers["content-security-policy"]


CSV = (
    "Email,First name,Last name,Tags,Marketing consent\n"
    "maya@example.org,Maya,Jones,runner,yes\n"
    "not-an-address,Sam,Lee,,yes\n"
    "lee@example.org,Lee,Park,desk,yes\n"
)


def test_contacts_import_shows_the_row_report_then_find_export_and_erase(synced, signed_in):
    response = signed_in.post(
        "/contacts/import",
        data={"csrf_token": signed_in.csrf},
        files={"file": ("clients.csv", CSV.encode(), "text/csv")},
    )
    assert response.status_code == 200
    assert "import-report" in response.text, re.findall(r"flash[^<]*<", response.text)
    report = response.text.split('id="import-report"')[1].split("</section>")[0]
    assert "Import of clients.csv" in report
    assert re.search(r'<td class="num">3</td>', report), "the bad row is not reported by number"
    found = signed_in.get("/contacts", params={"email": "MAYA@example.org"})
    assert "Maya" in found.text and "Erase this contact" in found.text
    export = signed_in.get("/contacts/export", params={"email": "maya@example.org"})
    clinic_day = utcnow().astimezone(synced.state.settings.clinic.zone).date()
    assert export.headers["content-disposition"] == (
        f'attachment; filename="contact-export-{clinic_day:%Y%m%d}.json"'
    )
    assert export.json()
    unconfirmed = signed_in.post(
        "/contacts/erase",
        data={"email": "maya@example.org", "confirm": "", "csrf_token": signed_in.csrf},
    )
    assert "Type the address again" in unconfirmed.text
    erased = signed_in.post(
        "/contacts/erase",
        data={
            "email": "maya@example.org",
            "confirm": "maya@example.org",
            "csrf_token": signed_in.csrf,
        },
    )
    assert "Erased maya@example.org" in erased.text
    gone = signed_in.get("/contacts", params={"email": "maya@example.org"})
    assert "No contact with the address" in gone.text


def _add_back(client, note: str, **options):
    return client.post(
        "/contacts/resubscribe",
        data={"email": "maya+news@example.org", "note": note, "csrf_token": client.csrf},
        **options,
    )


def test_staff_add_back_a_client_who_asked_with_how_they_asked(synced, signed_in):
    signed_in.post(
        "/contacts/import",
        data={"csrf_token": signed_in.csrf},
        files={
            "file": (
                "clients.csv",
                b"Email,First name,Marketing consent\nmaya+news@example.org,Maya,unsubscribed\n",
                "text/csv",
            )
        },
    )
    page = signed_in.get("/contacts", params={"email": "maya+news@example.org"})
    assert 'id="resubscribe"' in page.text and "consent withdrawn" in page.text
    unexplained = _add_back(signed_in, " ", follow_redirects=False)
    # The address is quoted in the way back: a bare `+` would read as a space.
    assert unexplained.headers["location"] == "/contacts?email=maya%2Bnews%40example.org"
    assert "Say how they asked" in signed_in.get(unexplained.headers["location"]).text
    added = _add_back(signed_in, "At reception: please send me the newsletter again")
    assert "maya+news@example.org is subscribed again" in added.text
    assert 'id="resubscribe"' not in added.text
    assert "mailable</span>" in added.text
    with synced.state.engine.connect() as conn:
        contact = get_contact(conn, "maya+news@example.org")
    assert contact.consent_status == "subscribed"
    assert contact.consent_source == "web:owner@clinic.example"
    assert contact.consent_wording == "At reception: please send me the newsletter again"
    again = _add_back(signed_in, "again")
    assert "was not unsubscribed: nothing changed" in again.text


def test_an_unconfirmed_erasure_returns_to_the_contact_with_a_plus_in_the_address(
    synced, signed_in
):
    response = signed_in.post(
        "/contacts/erase",
        data={"email": "maya+news@example.org", "confirm": "", "csrf_token": signed_in.csrf},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/contacts?email=maya%2Bnews%40example.org"


def test_a_dry_run_import_saves_nothing(synced, signed_in):
    response = signed_in.post(
        "/contacts/import",
        data={"csrf_token": signed_in.csrf, "dry_run": "on"},
        files={"file": ("clients.csv", CSV.encode(), "text/csv")},
    )
    assert "dry run: nothing saved" in response.text
    assert (
        "No contact with the address"
        in signed_in.get("/contacts", params={"email": "lee@example.org"}).text
    )
