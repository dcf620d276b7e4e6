"""The client's pages over real HTTP (ASGI) on SQLite and PostgreSQL: unsubscribe (page and
RFC 8058 one-click), subscribing again, preferences, view online, and the Inbound Parse mailto
unsubscribe."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from pipeline.render.message import recipient_values
from pipeline.store import utcnow
from pipeline.store.contacts import suppress, why_not_mailable
from pipeline.store.tables import contacts, events, sends, suppressions
from pipeline.tracking import link_payload, make_token
from tests.tracking_support import add_campaign, add_contact, add_send


@pytest.fixture
def client_links(tracking_app):
    """Ana, who got the campaign (her links), and Ben, with a send still queued elsewhere."""
    settings = tracking_app.state.settings
    with tracking_app.state.engine.begin() as conn:
        scenario = add_campaign(conn)
        ana = add_contact(conn, "ana.lopez@example.com", first_name="Ana")
        ben = add_contact(conn, "ben@example.com", first_name="Ben")
        ana_send = add_send(conn, scenario, ana, "athletes")
        ben_send = add_send(conn, scenario, ben, "desk_workers")
        later = add_campaign(conn, slug="summer-legs")
        queued = add_send(conn, later, ana, "athletes", status="queued")
    values = recipient_values(settings, ana, "ana.lopez@example.com", "Ana", ana_send)
    ben_values = recipient_values(settings, ben, "ben@example.com", "Ben", ben_send)
    base = settings.web.public_url
    return {
        "scenario": scenario,
        "ana": ana,
        "ben": ben,
        "ana_send": ana_send,
        "queued": queued,
        "unsubscribe": values["unsubscribe_url"].removeprefix(base),
        "preferences": values["preferences_url"].removeprefix(base),
        "view": values["view_url"].removeprefix(base),
        "token": values["unsubscribe_token"],
        "ben_view": ben_values["view_url"].removeprefix(base),
    }


def _contact(engine, contact_id):
    with engine.connect() as conn:
        return conn.execute(select(contacts).where(contacts.c.id == contact_id)).one()


def _status(engine, send_id):
    with engine.connect() as conn:
        return conn.execute(select(sends.c.status).where(sends.c.id == send_id)).scalar_one()


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_the_unsubscribe_link_asks_first_in_the_clinics_colours(tracking_client, client_links):
    page = tracking_client.get(client_links["unsubscribe"])
    assert page.status_code == 200
    assert "Harbourside Massage &amp; Physiotherapy" in page.text
    assert "14 Quay Street, Bristol BS1 4XY" in page.text
    assert "#1d6b66" in page.text
    assert "a••••••@example.com" in page.text
    assert f'action="{client_links["unsubscribe"]}"' in page.text
    assert 'name="viewport"' in page.text
    assert "http://" not in page.text.replace('href="http', "")
    assert "set-cookie" not in page.headers
    assert page.headers["cache-control"] == "no-store"


def test_opening_the_link_changes_nothing(tracking_client, tracking_app, client_links):
    tracking_client.get(client_links["unsubscribe"])
    assert _contact(tracking_app.state.engine, client_links["ana"]).consent_status == "subscribed"


def test_one_click_unsubscribes_at_once_and_skips_queued_sends(
    tracking_client, tracking_app, client_links
):
    engine = tracking_app.state.engine
    response = tracking_client.post(
        client_links["unsubscribe"], data={"List-Unsubscribe": "One-Click"}
    )
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert "set-cookie" not in response.headers
    contact = _contact(engine, client_links["ana"])
    assert (contact.consent_status, contact.consent_source) == ("unsubscribed", "one-click")
    assert _status(engine, client_links["queued"]) == "skipped"
    with engine.connect() as conn:
        assert conn.execute(select(suppressions.c.reason)).scalars().all() == ["unsubscribe"]
        recorded = conn.execute(select(events.c.event, events.c.send_id)).all()
    assert recorded == [("unsubscribe", client_links["ana_send"])]


def test_one_click_is_idempotent(tracking_client, tracking_app, client_links):
    first = tracking_client.post(
        client_links["unsubscribe"], data={"List-Unsubscribe": "One-Click"}
    )
    again = tracking_client.post(
        client_links["unsubscribe"], data={"List-Unsubscribe": "One-Click"}
    )
    assert first.status_code == again.status_code == 200
    assert _count(tracking_app.state.engine, events) == 1
    assert _count(tracking_app.state.engine, suppressions) == 1
    page = tracking_client.get(client_links["unsubscribe"])
    assert "already unsubscribed" in page.text


def test_the_confirmation_form_unsubscribes(tracking_client, tracking_app, client_links):
    response = tracking_client.post(client_links["unsubscribe"], data={})
    assert response.status_code == 200
    contact = _contact(tracking_app.state.engine, client_links["ana"])
    assert (contact.consent_status, contact.consent_source) == ("unsubscribed", "web")


def _resubscribe_action(html: str) -> str:
    found = re.search(r'<form method="post" action="([^"]+/resubscribe)">', html)
    assert found, "no way to subscribe again on the page"
    return found[1]


def test_a_client_who_unsubscribed_by_mistake_subscribes_again(
    tracking_client, tracking_app, client_links
):
    engine = tracking_app.state.engine
    unsubscribed = tracking_client.post(
        client_links["unsubscribe"], data={"List-Unsubscribe": "One-Click"}
    )
    action = _resubscribe_action(unsubscribed.text)
    assert action == client_links["unsubscribe"] + "/resubscribe"
    assert _resubscribe_action(tracking_client.get(client_links["unsubscribe"]).text) == action
    response = tracking_client.post(action)
    assert response.status_code == 200
    assert "You are subscribed again" in response.text
    assert client_links["preferences"] in response.text
    assert "set-cookie" not in response.headers
    contact = _contact(engine, client_links["ana"])
    assert (contact.consent_status, contact.consent_source) == ("subscribed", "resubscribe link")
    assert "subscribe again" in contact.consent_wording
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(suppressions)).scalar_one() == 0
        assert why_not_mailable(conn, client_links["ana"], utcnow()) is None
    # What the unsubscribe cancelled stays cancelled; the next campaign reaches them.
    assert _status(engine, client_links["queued"]) == "skipped"
    again = tracking_client.get(client_links["unsubscribe"])
    assert "Unsubscribe from our newsletter?" in again.text


def test_subscribing_again_leaves_a_bounce_in_place(tracking_client, tracking_app, client_links):
    engine = tracking_app.state.engine
    tracking_client.post(client_links["unsubscribe"], data={})
    with engine.begin() as conn:
        suppress(conn, "ana.lopez@example.com", "bounce", "webhook")
    response = tracking_client.post(client_links["unsubscribe"] + "/resubscribe")
    assert "we cannot send them to this address" in response.text
    assert _contact(engine, client_links["ana"]).consent_status == "subscribed"
    with engine.connect() as conn:
        assert conn.execute(select(suppressions.c.reason)).scalars().all() == ["bounce"]
        assert "bounced" in why_not_mailable(conn, client_links["ana"], utcnow())


def test_subscribing_again_keeps_a_pause_and_says_until_when(
    tracking_client, tracking_app, client_links
):
    tracking_client.post(client_links["preferences"], data={"action": "pause"})
    tracking_client.post(client_links["unsubscribe"], data={})
    response = tracking_client.post(client_links["unsubscribe"] + "/resubscribe")
    assert "once your pause ends on" in response.text
    contact = _contact(tracking_app.state.engine, client_links["ana"])
    assert contact.consent_status == "subscribed" and contact.paused_until is not None


def test_subscribing_again_changes_nobody_who_had_not_unsubscribed(
    tracking_client, tracking_app, client_links
):
    engine = tracking_app.state.engine
    response = tracking_client.post(client_links["unsubscribe"] + "/resubscribe")
    assert "You are subscribed again" in response.text
    assert _contact(engine, client_links["ana"]).consent_source == "test"
    with engine.begin() as conn:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == client_links["ana"])
            .values(consent_status="none", consent_source=None)
        )
    refused = tracking_client.post(client_links["unsubscribe"] + "/resubscribe")
    assert "We could not subscribe you here" in refused.text
    assert _contact(engine, client_links["ana"]).consent_status == "none"


def test_subscribing_again_takes_a_post_and_a_good_link(
    tracking_client, tracking_app, client_links
):
    tracking_client.post(client_links["unsubscribe"], data={})
    engine = tracking_app.state.engine
    assert tracking_client.get(client_links["unsubscribe"] + "/resubscribe").status_code == 405
    tampered = client_links["unsubscribe"][:-3] + "abc/resubscribe"
    assert tracking_client.post(tampered).status_code == 404
    preferences_token = client_links["preferences"].removeprefix("/p/")
    assert tracking_client.post(f"/u/{preferences_token}/resubscribe").status_code == 404
    assert _contact(engine, client_links["ana"]).consent_status == "unsubscribed"


def test_the_preference_page_of_an_unsubscribed_client_offers_the_way_back(
    tracking_client, tracking_app, client_links
):
    left = tracking_client.post(client_links["preferences"], data={"action": "unsubscribe"})
    action = _resubscribe_action(left.text)
    assert action == client_links["unsubscribe"] + "/resubscribe"
    page = tracking_client.get(client_links["preferences"])
    assert _resubscribe_action(page.text) == action
    tracking_client.post(action)
    assert _contact(tracking_app.state.engine, client_links["ana"]).consent_status == "subscribed"


@pytest.mark.parametrize(
    "path",
    [
        "/u/not-a-token",
        "/p/eyJjIjoxfQ.forged-signature-forged-signature",
        "/v/",
    ],
)
def test_a_bad_link_gets_a_friendly_404(tracking_client, path):
    response = tracking_client.get(path + ("x" if path.endswith("/") else ""))
    assert response.status_code == 404
    assert "We could not open this link" in response.text
    assert "Traceback" not in response.text


def test_a_bad_one_click_post_is_a_404_and_changes_nothing(
    tracking_client, tracking_app, client_links
):
    tampered = client_links["unsubscribe"][:-3] + "abc"
    response = tracking_client.post(tampered, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 404
    assert _contact(tracking_app.state.engine, client_links["ana"]).consent_status == "subscribed"


def test_a_token_is_only_good_for_its_own_page(tracking_client, client_links):
    token = client_links["preferences"].removeprefix("/p/")
    assert tracking_client.get(f"/u/{token}").status_code == 404


def test_a_link_for_a_reused_contact_id_opens_nothing(tracking_client, tracking_app, client_links):
    settings = tracking_app.state.settings
    payload = link_payload(client_links["ana"], None, "f" * 64)
    token = make_token(settings.secret_key.get_secret_value(), "unsubscribe", payload)
    assert tracking_client.get(f"/u/{token}").status_code == 404


def test_a_signed_token_without_the_address_hash_opens_nothing(
    tracking_client, tracking_app, client_links
):
    settings = tracking_app.state.settings
    token = make_token(
        settings.secret_key.get_secret_value(), "unsubscribe", {"c": client_links["ana"]}
    )
    assert tracking_client.get(f"/u/{token}").status_code == 404


def test_preferences_offer_only_topics_that_reveal_nothing(tracking_client, client_links):
    page = tracking_client.get(client_links["preferences"])
    assert page.status_code == 200
    assert "Athletes and active clients" in page.text
    assert "Desk workers" in page.text
    assert "Recovering from surgery" not in page.text
    assert "post_op" not in page.text


def test_choosing_topics_stores_segment_names(tracking_client, tracking_app, client_links):
    response = tracking_client.post(
        client_links["preferences"],
        data={"action": "topics", "topic": ["s1a7", "s5w2", "bogus"]},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert _contact(tracking_app.state.engine, client_links["ana"]).topics == ["athletes"]
    page = tracking_client.get(response.headers["location"])
    assert "Your topics are saved" in page.text
    tracking_client.post(client_links["preferences"], data={"action": "topics", "topic": "all"})
    assert _contact(tracking_app.state.engine, client_links["ana"]).topics == []


def test_pausing_for_three_months_and_resuming(tracking_client, tracking_app, client_links):
    engine = tracking_app.state.engine
    before = utcnow()
    tracking_client.post(client_links["preferences"], data={"action": "pause"})
    paused_until = _contact(engine, client_links["ana"]).paused_until
    assert before + timedelta(days=88) <= paused_until <= before + timedelta(days=93)
    page = tracking_client.get(client_links["preferences"])
    assert "paused until" in page.text
    tracking_client.post(client_links["preferences"], data={"action": "resume"})
    assert _contact(engine, client_links["ana"]).paused_until is None


def test_unsubscribing_from_the_preference_page(tracking_client, tracking_app, client_links):
    response = tracking_client.post(client_links["preferences"], data={"action": "unsubscribe"})
    assert "You are unsubscribed" in response.text
    contact = _contact(tracking_app.state.engine, client_links["ana"])
    assert (contact.consent_status, contact.consent_source) == ("unsubscribed", "preferences")
    assert _status(tracking_app.state.engine, client_links["queued"]) == "skipped"


def test_view_online_shows_this_recipients_email(tracking_client, client_links):
    page = tracking_client.get(client_links["view"])
    assert page.status_code == 200
    assert "Hello Ana, read on." in page.text
    assert client_links["token"] in page.text
    assert "script-src 'none'" in page.headers["content-security-policy"]


def test_view_online_never_shows_someone_elses_send(tracking_client, tracking_app, client_links):
    settings = tracking_app.state.settings
    with tracking_app.state.engine.connect() as conn:
        ben_hash = conn.execute(
            select(contacts.c.email_hash).where(contacts.c.id == client_links["ben"])
        ).scalar_one()
    # A genuine token for Ben that names Ana's send.
    payload = link_payload(client_links["ben"], client_links["ana_send"], ben_hash)
    token = make_token(settings.secret_key.get_secret_value(), "view", payload)
    assert tracking_client.get(f"/v/{token}").status_code == 404
    assert tracking_client.get(client_links["ben_view"]).status_code == 200


def _inbound(client, to: str, subject: str):
    return client.post(
        "/webhooks/inbound",
        data={
            "to": to,
            "from": "Ana <ana.lopez@example.com>",
            "subject": subject,
            "headers": "Received: by mx.example.com\n",
            "text": "",
        },
        files={"attachment-info": (None, "{}")},
    )


def test_a_mailto_unsubscribe_unsubscribes(tracking_client, tracking_app, client_links):
    mailbox = "unsubscribe@mail.harbourside-clinic.example"
    response = _inbound(tracking_client, mailbox, f"unsubscribe-{client_links['token']}")
    assert response.json() == {"unsubscribed": True}
    contact = _contact(tracking_app.state.engine, client_links["ana"])
    assert (contact.consent_status, contact.consent_source) == ("unsubscribed", "mailto")
    assert _status(tracking_app.state.engine, client_links["queued"]) == "skipped"


def test_the_token_may_travel_in_the_address(tracking_client, tracking_app, client_links):
    to = f"Unsubscribe <unsubscribe+{client_links['token']}@mail.harbourside-clinic.example>"
    assert _inbound(tracking_client, to, "Unsubscribe").json() == {"unsubscribed": True}


@pytest.mark.parametrize(
    ("to", "subject"),
    [
        ("someone@else.example", "unsubscribe-{token}"),
        ("unsubscribe@mail.harbourside-clinic.example", "please stop"),
        ("unsubscribe@mail.harbourside-clinic.example", "unsubscribe-{token}x"),
    ],
)
def test_other_mail_is_ignored_and_nothing_kept(
    tracking_client, tracking_app, client_links, to, subject
):
    response = _inbound(tracking_client, to, subject.format(token=client_links["token"]))
    assert response.json() == {"unsubscribed": False}
    assert _contact(tracking_app.state.engine, client_links["ana"]).consent_status == "subscribed"
    assert _count(tracking_app.state.engine, events) == 0


def test_an_erased_contacts_link_is_a_404(tracking_client, tracking_app, client_links):
    with tracking_app.state.engine.begin() as conn:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == client_links["ana"])
            .values(email="erased", email_key="erased-1", email_hash="0" * 64)
        )
    assert tracking_client.get(client_links["unsubscribe"]).status_code == 404
