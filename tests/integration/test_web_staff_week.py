"""The staff app's week without the command line, over a real database: adding and editing
articles, the campaign editor, scheduling in staff words, live figures, contact filters and
a staff unsubscribe, and the small things (favicon)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.campaigns.sync import sync_campaigns
from pipeline.content import sync_content
from pipeline.models import Contact
from pipeline.store import campaign_states as lifecycle_store
from pipeline.store.contacts import add_contact
from pipeline.store.types import utcnow
from pipeline.store.users import get_user_by_email
from pipeline.web.auth import add_user


@pytest.fixture
def synced(web_app):
    sync_content(web_app.state.engine, web_app.state.settings)
    return web_app


def test_the_favicon_is_served(web_app, signed_in):
    response = signed_in.get("/favicon.ico")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in response.text


PASTED = """Massage for runners before a marathon

Runners ask us when to book a sports massage before race day. For athletes training for a
marathon, a light massage two or three days before the race loosens the calves and hamstrings.

Hard deep tissue work the day before a race leaves runners sore; book it a week out instead.
"""


def _csrf_post(client, path: str, **data):
    return client.post(path, data={"csrf_token": client.csrf, **data})


def test_a_pasted_article_is_previewed_with_relevance_before_it_is_saved(synced, signed_in):
    preview = _csrf_post(signed_in, "/content/preview", text=PASTED, kind="")
    assert preview.status_code == 200
    assert "Preview: Massage for runners before a marathon" in preview.text
    assert 'data-relevance="athletes"' in preview.text
    assert signed_in.get("/content/massage-for-runners-before-a-marathon").status_code == 404
    saved = _csrf_post(signed_in, "/content/save", text=PASTED, kind="", name="pasted text")
    assert "Saved “Massage for runners before a marathon”" in saved.text
    assert "Edit the article" in saved.text


def test_an_uploaded_markdown_file_is_previewed_then_saved(synced, signed_in):
    markdown = "---\ntitle: Desk stretches\n---\n\nSitting at a desk all day stiffens the neck.\n"
    preview = signed_in.post(
        "/content/preview",
        data={"csrf_token": signed_in.csrf, "kind": ""},
        files={"file": ("desk.md", markdown.encode(), "text/markdown")},
    )
    assert "Preview: Desk stretches" in preview.text
    assert "Sitting at a desk all day" in preview.text  # the text box now holds the file


def test_a_saved_article_is_edited_and_saved_again(synced, signed_in):
    _csrf_post(signed_in, "/content/save", text=PASTED, kind="", name="pasted text")
    slug = "massage-for-runners-before-a-marathon"
    editor = signed_in.get(f"/content/{slug}/edit")
    assert "Hard deep tissue work" in editor.text
    changed = PASTED.replace("a week out", "five days out")
    saved = _csrf_post(
        signed_in, "/content/save", text=changed, kind="text", name="pasted text", editing=slug
    )
    assert "Saved “Massage for runners before a marathon”" in saved.text
    edited = signed_in.get(f"/content/{slug}/edit")
    assert "five days out" in edited.text


def test_an_article_from_content_files_is_read_only(synced, signed_in):
    page = signed_in.get("/content/full-treatment-for-back-pain")
    assert "read-only here" in page.text and "Edit the article" not in page.text
    edit = signed_in.get("/content/full-treatment-for-back-pain/edit")
    assert edit.status_code == 409 and "Sync from content/" in edit.text


def test_a_new_article_never_takes_a_file_articles_address(synced, signed_in):
    text = "Full treatment for back pain\n\nOur legs and back routine.\n"
    saved = _csrf_post(signed_in, "/content/save", text=text, kind="text", name="pasted text")
    assert saved.status_code == 422
    assert "only changes in its file" in saved.text


def test_nothing_given_is_a_clear_message(synced, signed_in):
    preview = _csrf_post(signed_in, "/content/preview", text="  ", kind="")
    assert preview.status_code == 422
    assert "paste the article" in preview.text


def test_pages_never_tell_staff_to_run_a_command(synced, signed_in):
    for path, words in (
        ("/campaigns/no-such-campaign", "no campaign 'no-such-campaign'"),
        ("/content/no-such-article", "no article with slug 'no-such-article'"),
    ):
        page = signed_in.get(path)
        assert page.status_code == 404
        main = html.unescape(page.text.split("<main")[1])
        assert words in main
        assert "clinicmail " not in main and "--" not in main


def _make_campaign(client, article: str = "full-treatment-for-back-pain") -> str:
    response = client.post(
        "/campaigns/new",
        data={"article": article, "csrf_token": client.csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response.headers["location"].removeprefix("/campaigns/")


def _editor_form(client, slug: str) -> dict:
    """The editor's fields as the page fills them (checked boxes only, as a browser posts)."""

    page = client.get(f"/campaigns/{slug}/edit").text
    data: dict = {"csrf_token": client.csrf}
    for name, value in re.findall(r'<input name="([^"]+)" value="([^"]*)"', page):
        data[name] = value
    for name in re.findall(r'<input type="checkbox" name="(target\.[^"]+)" checked', page):
        data[name] = "on"
    return data


def test_the_athletes_subject_and_excerpt_are_edited_and_previewed(synced, signed_in):
    slug = _make_campaign(signed_in)
    form = _editor_form(signed_in, slug)
    form |= {"subject.athletes": "Race-ready legs, and why we massage them"}
    form |= {"excerpt.athletes": "2"}
    answer = signed_in.post(
        f"/campaigns/{slug}/edit", data=form, headers={"Accept": "application/json"}
    ).json()
    assert answer["saved"], answer
    assert "athletes" in answer["variants"]
    page = signed_in.get(f"/campaigns/{slug}")
    assert "Race-ready legs, and why we massage them" in page.text
    preview = signed_in.get(f"/campaigns/{slug}/preview/athletes")
    assert "Race-ready legs" in preview.text


def test_saving_an_approved_campaign_sends_it_back_to_draft(synced, signed_in):
    slug = _make_campaign(signed_in)
    _csrf_post(signed_in, f"/campaigns/{slug}/approve")
    form = _editor_form(signed_in, slug) | {"subject.desk": "Desk days and your back"}
    saved = signed_in.post(f"/campaigns/{slug}/edit", data=form)
    assert "It is a draft again" in saved.text
    with synced.state.engine.connect() as conn:
        assert lifecycle_store.find_campaign(conn, slug).state == "draft"


def test_file_campaigns_are_read_only_in_the_editor(synced, signed_in):

    report = sync_campaigns(synced.state.engine, synced.state.settings)
    assert report is not None
    with synced.state.engine.connect() as conn:
        file_slug = next(c.slug for c in lifecycle_store.all_campaigns(conn) if c.origin == "file")
    page = signed_in.get(f"/campaigns/{file_slug}/edit")
    assert page.status_code == 409
    assert "read-only here" in page.text


def test_an_excerpt_paragraph_that_does_not_exist_is_not_saved(synced, signed_in):
    slug = _make_campaign(signed_in)
    form = _editor_form(signed_in, slug) | {"excerpt.athletes": "99"}
    answer = signed_in.post(
        f"/campaigns/{slug}/edit", data=form, headers={"Accept": "application/json"}
    )
    assert answer.status_code == 422
    assert "paragraph 99 does not exist" in answer.json()["message"]
    assert "¶99" not in signed_in.get(f"/campaigns/{slug}/edit").text


@pytest.fixture
def quiet_hours_now(workspace_db):
    """The workspace's quiet hours moved to cover the present hour, whenever the test runs."""

    local = utcnow().astimezone(ZoneInfo("Europe/London"))  # the sample clinic's timezone
    start, end = local - timedelta(hours=1), local + timedelta(hours=2)
    config = workspace_db / "clinic.toml"
    text = re.sub(
        r"(?m)^quiet_hours = .*$",
        f'quiet_hours = "{start:%H:%M}-{end:%H:%M}"',
        config.read_text(encoding="utf-8"),
    )
    config.write_text(text, encoding="utf-8")
    return end


def _approved_campaign(client) -> str:
    slug = _make_campaign(client)
    _csrf_post(client, f"/campaigns/{slug}/approve")
    return slug


def test_send_now_in_quiet_hours_says_when_it_goes_out(quiet_hours_now, synced, signed_in):
    slug = _approved_campaign(signed_in)
    page = _csrf_post(signed_in, f"/campaigns/{slug}/send-now")
    assert "Not yet: quiet hours or a closure. Goes out " in page.text
    assert f"{quiet_hours_now:%H:%M}" in page.text
    with synced.state.engine.connect() as conn:
        assert lifecycle_store.find_campaign(conn, slug).state == "scheduled"


def test_resume_in_quiet_hours_says_why_instead_of_flipping_back(
    quiet_hours_now, synced, signed_in
):

    slug = _approved_campaign(signed_in)
    with synced.state.engine.begin() as conn:
        # A campaign that started sending and that staff then paused.
        now = utcnow()
        lifecycle_store.transition(conn, slug, ("approved",), "paused", now, started_at=now)
    page = _csrf_post(signed_in, f"/campaigns/{slug}/resume")
    assert "Not yet: quiet hours or a closure until" in page.text
    assert "It resumes by itself then." in page.text
    with synced.state.engine.connect() as conn:
        campaign = lifecycle_store.find_campaign(conn, slug)
    assert campaign.state == "paused" and campaign.resume_at is not None
    assert 'id="resume-note"' in page.text and ">Resume</button>" not in page.text


def test_the_schedule_form_proposes_the_next_allowed_slot_and_explains_it(
    quiet_hours_now, synced, signed_in
):
    slug = _approved_campaign(signed_in)
    page = signed_in.get(f"/campaigns/{slug}")
    assert f'name="clock" value="{quiet_hours_now:%H:%M}"' in page.text
    assert "Goes out" in page.text
    answer = signed_in.get(
        f"/campaigns/{slug}/when", params={"day": "2020-01-01", "clock": "09:00"}
    ).json()
    assert answer["possible"] is False
    assert answer["sentence"].startswith("That time has passed: choose a later one.")


def _people(engine) -> None:

    people = [
        Contact("maya.jones@example.org", "Maya", "Jones", frozenset({"runner"})),
        Contact("ann.mayhew@example.org", "Ann", "Mayhew", frozenset({"post-op"})),
        Contact("ben.mayhew@example.org", "Ben", "Mayhew", frozenset({"post-op", "vip"})),
        Contact("cal.stone@example.org", "Cal", "Stone", frozenset({"post-op"})),
    ]
    start = utcnow() - timedelta(days=1)
    with engine.begin() as conn:
        for index, person in enumerate(people):
            consent = "none" if person.first_name == "Cal" else "subscribed"
            add_contact(
                conn,
                Contact(person.email, person.first_name, person.last_name, person.tags,
                        consent_status=consent),
                now=start + timedelta(minutes=index),
            )  # fmt: skip


def _listed(page_text: str) -> list[str]:

    if 'id="search-results"' not in page_text:
        return []
    table = page_text.split('id="search-results"')[1].split("</table>")[0]
    return re.findall(r"<td>([^<@]+@example\.org)</td>", table)


def test_filters_combine_with_the_search(web_app, signed_in):
    _people(web_app.state.engine)
    post_op = signed_in.get("/contacts", params={"segment": "post_op"})
    assert sorted(_listed(post_op.text)) == [
        "ann.mayhew@example.org",
        "ben.mayhew@example.org",
        "cal.stone@example.org",
    ]
    mailable = signed_in.get("/contacts", params={"segment": "post_op", "mailable": "yes"})
    assert "cal.stone@example.org" not in _listed(mailable.text)
    both = signed_in.get("/contacts", params={"segment": "post_op", "q": "mayhew", "tag": "vip"})
    assert _listed(both.text) == ["ben.mayhew@example.org"]
    none = signed_in.get("/contacts", params={"consent": "none"})
    assert _listed(none.text) == ["cal.stone@example.org"]
    assert 'rel="next"' not in none.text


def test_staff_unsubscribe_records_how_the_client_asked(web_app, signed_in):
    _people(web_app.state.engine)
    done = _csrf_post(
        signed_in,
        "/contacts/unsubscribe",
        email="maya.jones@example.org",
        asked="phone",
        note="rang on Tuesday",
    )
    assert "is unsubscribed (asked by phone: rang on Tuesday)" in done.text
    assert 'id="consent-status">unsubscribed' in done.text
    history = done.text.split('id="consent-history"')[1].split("</section>")[0]
    assert "staff:owner@clinic.example" in history and "asked by phone: rang on Tuesday" in history
    assert "Subscribe them again" in done.text


def test_staff_unsubscribe_asks_how_they_asked(web_app, signed_in):
    _people(web_app.state.engine)
    page = _csrf_post(signed_in, "/contacts/unsubscribe", email="maya.jones@example.org")
    assert "Say how they asked to be unsubscribed." in page.text
    assert 'id="consent-status">subscribed' in page.text


def test_bulk_tag_is_confirmed_then_applied_to_the_filtered_contacts(web_app, signed_in):
    _people(web_app.state.engine)
    confirm = _csrf_post(
        signed_in, "/contacts/bulk/confirm", segment="post_op", action="tag", new_tag="Spring 26"
    )
    assert "Add the tag “Spring 26” to 3 contacts?" in confirm.text
    assert _listed(signed_in.get("/contacts", params={"tag": "spring-26"}).text) == []
    done = _csrf_post(
        signed_in, "/contacts/bulk", segment="post_op", action="tag", new_tag="Spring 26",
        expected="3",
    )  # fmt: skip
    assert "Tagged 3 contacts" in done.text
    assert len(_listed(signed_in.get("/contacts", params={"tag": "spring-26"}).text)) == 3


def test_a_bulk_action_never_runs_on_a_changed_selection_or_on_everyone(web_app, signed_in):
    _people(web_app.state.engine)
    stale = _csrf_post(
        signed_in, "/contacts/bulk", segment="post_op", action="unsubscribe", expected="2"
    )
    assert "The selection changed meanwhile (3 contacts now)" in stale.text
    everyone = _csrf_post(signed_in, "/contacts/bulk/confirm", action="unsubscribe")
    assert "bulk actions never apply to everyone" in everyone.text.lower()


def test_bulk_erase_needs_the_word_typed(web_app, signed_in):
    _people(web_app.state.engine)
    refused = _csrf_post(
        signed_in, "/contacts/bulk", tag="vip", action="erase", expected="1", confirm="yes"
    )
    assert "Type “erase” to confirm the erasure; nothing was erased." in refused.text
    erased = _csrf_post(
        signed_in, "/contacts/bulk", tag="vip", action="erase", expected="1", confirm="erase"
    )
    assert "Erased 1 contacts" in erased.text
    assert "ben.mayhew@example.org" not in erased.text


def test_cancel_asks_first_then_can_be_undone_for_a_few_seconds(synced, signed_in):

    slug = _approved_campaign(signed_in)
    unconfirmed = _csrf_post(signed_in, f"/campaigns/{slug}/cancel")
    assert "Yes, cancel it" in unconfirmed.text
    with synced.state.engine.connect() as conn:
        assert lifecycle_store.find_campaign(conn, slug).state == "approved"
    cancelled = _csrf_post(signed_in, f"/campaigns/{slug}/cancel", confirmed="yes")
    assert "Cancelled: nothing more of it goes out." in cancelled.text
    assert "Undo the cancel" in cancelled.text
    undone = _csrf_post(signed_in, f"/campaigns/{slug}/undo-cancel")
    assert "Cancel undone: it is approved again." in undone.text
    with synced.state.engine.connect() as conn:
        assert lifecycle_store.find_campaign(conn, slug).state == "approved"
    again = _csrf_post(signed_in, f"/campaigns/{slug}/undo-cancel")
    assert "too late to undo" in again.text


def test_a_cancel_is_not_undone_after_its_time(synced, signed_in, time_machine):

    slug = _approved_campaign(signed_in)
    time_machine.move_to(utcnow(), tick=True)
    _csrf_post(signed_in, f"/campaigns/{slug}/cancel", confirmed="yes")
    time_machine.shift(timedelta(seconds=16))
    late = _csrf_post(signed_in, f"/campaigns/{slug}/undo-cancel")
    assert "too late to undo" in late.text
    assert "Undo the cancel" not in late.text


def test_removing_a_user_asks_first(web_app, signed_in):

    add_user(web_app.state.engine, "sam@clinic.example", "marketing", "a long password here")
    with web_app.state.engine.connect() as conn:
        sam = get_user_by_email(conn, "sam@clinic.example")
    asked = _csrf_post(signed_in, f"/users/{sam.id}/delete")
    assert "Remove sam@clinic.example?" in asked.text and "Yes, remove them" in asked.text
    with web_app.state.engine.connect() as conn:
        assert get_user_by_email(conn, "sam@clinic.example") is not None
    removed = _csrf_post(signed_in, f"/users/{sam.id}/delete", confirmed="yes")
    assert "sam@clinic.example can no longer sign in." in removed.text


def test_a_draft_whose_time_has_passed_is_flagged(synced, signed_in):

    slug = _make_campaign(signed_in)
    with synced.state.engine.begin() as conn:
        now = utcnow()
        past = now - timedelta(days=1)
        lifecycle_store.transition(conn, slug, ("draft",), "draft", now, scheduled_for=past)
    listing = signed_in.get("/campaigns")
    assert "has passed: choose a new one when you schedule it." in listing.text
    page = signed_in.get(f"/campaigns/{slug}")
    assert 'class="flash error past-time"' in page.text


def test_the_list_carries_figures_and_the_calendar_shows_what_goes_out(synced, signed_in):

    slug = _approved_campaign(signed_in)
    zone = synced.state.settings.clinic.zone
    when = (utcnow() + timedelta(days=1)).astimezone(zone)
    _csrf_post(signed_in, f"/campaigns/{slug}/schedule", day=when.date().isoformat(), clock="10:00")
    listing = signed_in.get("/campaigns")
    for heading in ("Delivered", "Open rate", "Click rate", "Booking clicks"):
        assert f">{heading}</th>" in listing.text
    month = signed_in.get("/campaigns/calendar", params={"month": f"{when:%Y-%m}"})
    assert month.status_code == 200
    day = month.text.split(f'<span class="weekday-name">{when:%a}</span> {when.day}</span>')[1]
    assert f'href="/campaigns/{slug}"' in day.split("</li>")[0]
    assert "10:00" in day.split("</li>")[0]
    with synced.state.engine.connect() as conn:
        assert lifecycle_store.find_campaign(conn, slug).state == "scheduled"


def test_the_calendar_shows_a_digests_next_occurrences(synced, signed_in):

    sync_campaigns(synced.state.engine, synced.state.settings)
    # The sample digest goes out on the 1st of each month at 09:00.
    following = (utcnow().replace(day=28) + timedelta(days=4)).replace(day=1)
    page = signed_in.get("/campaigns/calendar", params={"month": f"{following:%Y-%m}"})
    first_day = page.text.split(f'<span class="weekday-name">{following:%a}</span> 1</span>')[1]
    assert 'class="entry recurring" href="/campaigns/monthly-digest"' in first_day.split("</li>")[0]
    assert "09:00" in first_day.split("</li>")[0]


@pytest.fixture
def silent_image_host():
    """An image host that accepts connections and never answers."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield f"http://127.0.0.1:{server.getsockname()[1]}/logo.png"
    server.close()


def fetching_private_addresses(app) -> None:
    """The app's settings with `[feeds] allow_private`: the test servers live on loopback."""
    settings = app.state.settings
    feeds = settings.feeds.model_copy(update={"allow_private": True})
    app.state.settings = settings.model_copy(update={"feeds": feeds})


@pytest.fixture
def image_host():
    """A loopback server that answers every GET with a small PNG."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Image(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(PNG)))
            self.end_headers()
            self.wfile.write(PNG)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Image)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/logo.png"
    server.shutdown()
    server.server_close()


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def test_a_preview_image_at_a_private_address_is_not_fetched(synced, signed_in, image_host):
    from pipeline.web.staff.preview_images import through_the_app

    html = through_the_app(f'<img alt="logo" src="{image_host}">', synced.state.settings)
    proxied = re.search(r'src="(/preview-image\?u=[^"]+)"', html)[1]
    refused = signed_in.get(proxied)
    assert refused.headers["content-type"].startswith("image/svg+xml")
    assert b"image not reachable" in refused.content
    fetching_private_addresses(synced)
    allowed = signed_in.get(proxied)
    assert allowed.headers["content-type"] == "image/png"
    assert allowed.content == PNG


def test_a_preview_shows_a_placeholder_for_an_image_that_does_not_come(
    synced, signed_in, silent_image_host
):
    from pipeline.web.staff.preview_images import through_the_app

    fetching_private_addresses(synced)
    html = through_the_app(f'<img alt="logo" src="{silent_image_host}">', synced.state.settings)
    proxied = re.search(r'src="(/preview-image\?u=[^"]+)"', html)[1]
    answer = signed_in.get(proxied)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert b"image not reachable" in answer.content


def test_preview_images_are_only_those_of_previews(synced, signed_in):
    forged = signed_in.get("/preview-image", params={"u": "http://169.254.169.254/latest"})
    assert forged.status_code == 404


def test_the_campaign_preview_loads_its_images_through_the_app(synced, signed_in):
    slug = _make_campaign(signed_in)
    variant = re.search(
        r'src="/campaigns/[^/]+/preview/([^"]+)"', signed_in.get(f"/campaigns/{slug}").text
    )[1]
    preview = signed_in.get(f"/campaigns/{slug}/preview/{variant}")
    assert 'src="/preview-image?u=' in preview.text
    assert 'src="https://harbourside-clinic.example' not in preview.text


def test_a_refused_action_says_why_in_staff_words(synced, signed_in):
    slug = _make_campaign(signed_in)
    paused = _csrf_post(signed_in, f"/campaigns/{slug}/pause")
    assert "It cannot be paused now: it is a draft: approve it first." in paused.text
    assert "clinicmail" not in paused.text.split("</header>")[1].split("<footer")[0]


def test_clients_at_the_weekly_limit_are_counted_before_scheduling(synced, signed_in):
    from pipeline.demo import seed_demo_contacts
    from pipeline.outbox import start_campaign

    engine, settings = synced.state.engine, synced.state.settings
    seed_demo_contacts(engine, 30, if_empty=True)
    first, second = _approved_campaign(signed_in), _approved_campaign(signed_in)
    with engine.connect() as conn:
        second_id = lifecycle_store.find_campaign(conn, second).id
        assert lifecycle_store.contacts_at_weekly_cap(conn, second_id, utcnow(), 1) == 0
    report = start_campaign(engine, settings, first)
    assert report.audience > 0
    with engine.connect() as conn:
        capped = lifecycle_store.contacts_at_weekly_cap(conn, second_id, utcnow(), 1)
    assert capped == report.audience
