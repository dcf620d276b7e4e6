"""Contact search on SQLite and PostgreSQL: the store queries (words, case, literal wildcards,
order and paging) and the contacts page (results table, pager, empty state, sign-in)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from pipeline.models import Contact
from pipeline.segments import load_segments
from pipeline.store.contact_search import (
    count_matching_contacts,
    search_contacts,
    segments_of_contacts,
)
from pipeline.store.contacts import add_contact, suppress

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _person(email: str, first: str, last: str, *tags: str, consent: str = "subscribed"):
    return Contact(email, first, last, frozenset(tags), consent_status=consent)


# Added in this order, a minute apart: the last one is the newest.
PEOPLE = [
    _person("maya.jones@example.org", "Maya", "Jones", "runner"),
    _person("lee.park@example.org", "Lee", "Park", "desk"),
    _person("sam_lee@example.org", "Sam", "Leeward"),
    _person("percent%sign@example.org", "Jo", "Percent", consent="none"),
    _person("mayhew@clinic.example", "Ann", "Mayhew", "post-op"),
]


def _add_people(engine, people=PEOPLE) -> None:
    with engine.begin() as conn:
        for index, person in enumerate(people):
            add_contact(conn, person, now=START + timedelta(minutes=index))


def _emails(conn, query: str, **paging) -> list[str]:
    return [contact.email for contact in search_contacts(conn, query, **paging)]


def test_an_empty_query_lists_everyone_newest_first(engine):
    _add_people(engine)
    with engine.connect() as conn:
        assert _emails(conn, "") == [person.email for person in reversed(PEOPLE)]
        assert _emails(conn, "   ") == _emails(conn, "")
        assert count_matching_contacts(conn, "") == len(PEOPLE)


def test_part_of_a_name_or_an_address_finds_the_contact_whatever_the_case(engine):
    _add_people(engine)
    with engine.connect() as conn:
        assert _emails(conn, "jon") == ["maya.jones@example.org"]
        assert _emails(conn, "MAY") == ["mayhew@clinic.example", "maya.jones@example.org"]
        assert _emails(conn, "clinic.EXAMPLE") == ["mayhew@clinic.example"]
        assert _emails(conn, "pArK") == ["lee.park@example.org"]
        assert _emails(conn, "RUNNER") == ["maya.jones@example.org"]
        assert _emails(conn, "nobody-like-this") == []
        assert count_matching_contacts(conn, "may") == 2


def test_every_word_of_the_query_must_match_some_field(engine):
    _add_people(engine)
    with engine.connect() as conn:
        assert _emails(conn, "lee") == [
            "sam_lee@example.org",
            "lee.park@example.org",
        ]
        assert _emails(conn, "lee  park") == ["lee.park@example.org"]
        assert _emails(conn, "sam leeward") == ["sam_lee@example.org"]
        assert _emails(conn, "maya runner") == ["maya.jones@example.org"]
        assert _emails(conn, "maya desk") == []
        assert count_matching_contacts(conn, "lee park") == 1


def test_percent_underscore_and_backslash_in_a_query_are_taken_literally(engine):
    _add_people(engine)
    with engine.connect() as conn:
        assert _emails(conn, "%") == ["percent%sign@example.org"]
        assert _emails(conn, "_") == ["sam_lee@example.org"]
        assert _emails(conn, "m_lee") == ["sam_lee@example.org"]
        # Unescaped, "a_a" would match "maya" (any character) and "%@" every address.
        assert _emails(conn, "a_a") == []
        assert _emails(conn, "t%s") == ["percent%sign@example.org"]
        assert _emails(conn, "\\") == []
        # A comma never matches the separators of the stored tags.
        assert _emails(conn, ",") == []
        assert count_matching_contacts(conn, "%") == 1


def test_pages_follow_each_other_without_overlap(engine):
    _add_people(engine)
    with engine.connect() as conn:
        first = _emails(conn, "", limit=2, offset=0)
        second = _emails(conn, "", limit=2, offset=2)
        third = _emails(conn, "", limit=2, offset=4)
        assert first + second + third == _emails(conn, "")
        assert len(third) == 1
        assert _emails(conn, "", limit=2, offset=10) == []


def test_segments_of_contacts_names_each_contacts_segments(workspace, engine):
    _add_people(engine)
    segments = load_segments(workspace)
    with engine.connect() as conn:
        found = {contact.email: contact.id for contact in search_contacts(conn, "")}
        membership = segments_of_contacts(conn, list(found.values()), segments, START.date())
        assert segments_of_contacts(conn, [], segments, START.date()) == {}
    assert "athletes" in membership[found["maya.jones@example.org"]]
    assert membership[found["sam_lee@example.org"]] == ["general"]


# --- the contacts page -------------------------------------------------------------------------


def _result_rows(html: str) -> list[str]:
    table = html.split('id="search-results"')[1].split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)


def test_the_contacts_page_searches_and_shows_mailability_tags_and_segments(web_app, signed_in):
    _add_people(web_app.state.engine)
    with web_app.state.engine.begin() as conn:
        suppress(conn, "lee.park@example.org", "manual", "test")
    page = signed_in.get("/contacts", params={"q": "  LEE  "})
    assert page.status_code == 200
    rows = _result_rows(page.text)
    assert len(rows) == 2
    park = next(row for row in rows if "lee.park@example.org" in row)
    assert "Lee Park" in park
    assert "subscribed" in park
    assert "staff suppressed the address" in park
    assert '<span class="badge bad">no</span>' in park
    assert "desk" in park
    leeward = next(row for row in rows if "sam_lee@example.org" in row)
    assert '<span class="badge ok">yes</span>' in leeward
    assert "Everyone else" in leeward
    assert 'href="/contacts?email=sam_lee%40example.org"' in leeward
    assert 'href="/contacts/export?email=sam_lee%40example.org"' in leeward
    assert 'value="LEE"' in page.text


def test_a_row_link_opens_the_contact_with_export_and_erase(web_app, signed_in):
    _add_people(web_app.state.engine)
    page = signed_in.get("/contacts", params={"q": "mayhew"})
    link = re.search(r'href="(/contacts\?email=[^"]+)"', page.text)[1].replace("&amp;", "&")
    contact = signed_in.get(link)
    assert contact.status_code == 200
    assert 'id="contact"' in contact.text and "Erase this contact" in contact.text
    assert "mayhew@clinic.example" in contact.text.split('id="contact"')[1]
    assert 'href="/contacts">← Contacts</a>' in contact.text


def test_wildcards_in_the_search_box_are_literal_on_the_page(web_app, signed_in):
    _add_people(web_app.state.engine)
    rows = _result_rows(signed_in.get("/contacts", params={"q": "%"}).text)
    assert len(rows) == 1 and "percent%sign@example.org" in rows[0]


def test_no_match_shows_the_empty_state(web_app, signed_in):
    _add_people(web_app.state.engine)
    page = signed_in.get("/contacts", params={"q": "zzz"})
    assert 'id="search-results"' not in page.text
    assert "No contact matches “zzz”" in page.text


def test_an_empty_database_says_how_to_add_contacts(web_app, signed_in):
    page = signed_in.get("/contacts")
    assert "No contacts yet" in page.text


def test_the_pager_walks_through_the_results_and_keeps_the_query(web_app, signed_in):
    many = [
        Contact(f"client{index:02d}@example.org", "Client", f"Number{index:02d}")
        for index in range(30)
    ]
    _add_people(web_app.state.engine, many + PEOPLE)
    first = signed_in.get("/contacts", params={"q": "client"})
    assert len(_result_rows(first.text)) == 25
    assert "1–25 of 30 contacts" in first.text
    assert 'rel="prev"' not in first.text
    following = re.search(r'rel="next" href="([^"]+)"', first.text)[1].replace("&amp;", "&")
    assert following == "/contacts?q=client&page=2"
    second = signed_in.get(following)
    rows = _result_rows(second.text)
    assert len(rows) == 5 and "client00@example.org" in rows[-1]
    assert "26–30 of 30 contacts" in second.text
    assert 'rel="next"' not in second.text
    assert 'rel="prev" href="/contacts?q=client&amp;page=1"' in second.text


@pytest.mark.parametrize("page", ["0", "-3", "abc", "99"])
def test_a_page_number_out_of_range_shows_the_nearest_page(web_app, signed_in, page):
    _add_people(web_app.state.engine)
    response = signed_in.get("/contacts", params={"q": "", "page": page})
    assert response.status_code == 200
    assert len(_result_rows(response.text)) == len(PEOPLE)


def test_search_needs_a_signed_in_user(web_app):
    _add_people(web_app.state.engine)
    with TestClient(web_app, base_url="http://127.0.0.1:8000") as client:
        response = client.get("/contacts", params={"q": "maya"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=")
    assert "maya.jones@example.org" not in response.text
