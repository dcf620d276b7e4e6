"""The owner's comparison on the dashboard and the bookings page, through the web app on
SQLite and PostgreSQL: the table's figures, sort, segment filter, CSV, the best-campaign
sentence, health flags, "no bookings imported" before any import, and the upload's report."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from pipeline.models import Event
from pipeline.store import utcnow
from pipeline.store.events import record_events
from pipeline.web.auth import add_user, mint_api_token
from tests.tracking_support import add_campaign, add_contact, add_send

BOOKING = "https://harbourside-clinic.example/book"


@pytest.fixture
def sent(web_app):
    """Two campaigns this week. Spring: 40 athletes delivered, 10 clicked to book, one spam
    report (2.5%: above Gmail and Yahoo's 0.3%). Summer: 30 desk workers, 3 booking clicks."""
    engine = web_app.state.engine
    now = utcnow() - timedelta(hours=2)
    batch = []
    with engine.begin() as conn:
        spring = add_campaign(conn, "spring-back-care", started_at=now)
        summer = add_campaign(conn, "summer-legs", started_at=now)
        for number in range(40):
            contact = add_contact(conn, f"athlete{number}@example.com")
            send = add_send(conn, spring, contact, "athletes")
            batch.append(Event(f"d-s{number}", "delivered", now, send))
            if number < 10:
                batch.append(Event(f"c-s{number}", "click", now, send, url=BOOKING))
        batch.append(Event("spam", "spamreport", now, send))
        for number in range(30):
            contact = add_contact(conn, f"desk{number}@example.com")
            send = add_send(conn, summer, contact, "desk_workers")
            batch.append(Event(f"d-m{number}", "delivered", now, send))
            if number < 3:
                batch.append(Event(f"c-m{number}", "click", now, send, url=BOOKING))
        record_events(
            conn, batch, zone=web_app.state.settings.clinic.zone, booking_url=BOOKING,
            received_at=now,
        )  # fmt: skip
    return web_app


def _rows(page: str, table: str = 'data-table="comparison"') -> dict[str, dict[str, str]]:
    """{campaign slug: {figure: text}} of a table of campaigns (the dashboard's comparison, or
    the campaigns list with table='id="campaign-list"')."""
    body = page.split(table)[1].split("</table>")[0]
    rows = {}
    for slug, row in re.findall(r'<tr data-campaign="([^"]+)">(.*?)</tr>', body, re.S):
        cells = re.findall(r'data-figure="([^"]+)">(.*?)</td>', row, re.S)
        rows[slug] = {name: re.sub(r"<[^>]+>", "", value).strip() for name, value in cells}
    return rows


def test_the_dashboard_compares_campaigns_before_and_after_a_bookings_import(sent, signed_in):
    page = signed_in.get("/").text
    rows = _rows(page)
    assert rows["spring-back-care"]["delivered"] == "40"
    assert rows["spring-back-care"]["click_rate"] == "25.0%"
    assert rows["spring-back-care"]["booking_clicks"] == "10"
    assert rows["spring-back-care"]["bookings"] == "no bookings imported"
    assert rows["spring-back-care"]["complaint_rate"] == "2.50%"
    assert "complaints above 0.3% (Gmail and Yahoo&#39;s limit)" in page
    assert "Open rate (people, of delivered)" in page and "Complaint rate (of delivered)" in page
    assert "Best campaign: Spring back care" in page
    section = page.split('aria-labelledby="comparison-title"')[1].split("</section>")[0]
    assert not re.search(r"<script|\sstyle=|\son[a-z]+=", section)

    # The campaigns list reads the same figures as the dashboard's comparison.
    listed = _rows(signed_in.get("/campaigns").text, 'id="campaign-list"')
    for name in ("delivered", "click_rate", "booking_clicks", "bookings"):
        assert listed["spring-back-care"][name] == rows["spring-back-care"][name], name
    assert listed["summer-legs"]["delivered"] == "30"
    assert listed["spring-back-care"]["bookings"] == "no bookings imported"
    athlete = signed_in.get("/contacts", params={"email": "athlete1@example.com"}).text
    assert "No bookings imported yet" in _section(athlete, "bookings")

    bookings_page = signed_in.get("/bookings").text
    assert not re.search(r"<script>|\sstyle=|\son[a-z]+=", bookings_page.split("<main")[1])
    imported = _import_appointments(signed_in, range(4))
    report = imported.text.split('id="import-report"')[1].split("</section>")[0]
    assert re.search(r'data-figure="created">4<', report)
    rows = _rows(signed_in.get("/").text)
    assert (rows["spring-back-care"]["bookings"], rows["spring-back-care"]["revenue"]) == (
        "4", "200.00",
    )  # fmt: skip
    assert rows["summer-legs"]["bookings"] == "0"
    # The campaigns list and a client's page read the same bookings.
    listed = _rows(signed_in.get("/campaigns").text, 'id="campaign-list"')
    assert (listed["spring-back-care"]["bookings"], listed["summer-legs"]["bookings"]) == ("4", "0")
    athlete_page = signed_in.get("/contacts", params={"email": "athlete1@example.com"}).text
    athlete = _section(athlete_page, "bookings")
    assert "Massage" in athlete and "50.00" in athlete and "booked" in athlete
    assert 'href="/campaigns/spring-back-care"' in athlete
    nobody = signed_in.get("/contacts", params={"email": "desk1@example.com"}).text
    assert "No bookings for this address" in _section(nobody, "bookings")


def test_erasing_a_client_deletes_their_bookings_and_keeps_them_out_of_later_imports(
    sent, signed_in
):
    now = utcnow()
    _import_appointments(signed_in, range(4), now)
    held = signed_in.get("/contacts/export", params={"email": "athlete1@example.com"}).json()
    assert [booking["service"] for booking in held["bookings"]] == ["Massage"]
    assert held["bookings"][0]["credited_to"] == "spring-back-care"
    signed_in.post(
        "/contacts/erase",
        data={"csrf_token": signed_in.csrf, "email": "athlete1@example.com",
              "confirm": "athlete1@example.com"},
    )  # fmt: skip
    assert _rows(signed_in.get("/").text)["spring-back-care"]["bookings"] == "3"
    again = _import_appointments(signed_in, range(4), now)
    report = again.text.split('id="import-report"')[1].split("</section>")[0]
    assert "erased on request" in report
    assert re.search(r'data-figure="unchanged">3<', report)
    assert _rows(signed_in.get("/").text)["spring-back-care"]["bookings"] == "3"


def _import_appointments(client, numbers, now=None):
    """Import one kept appointment, booked `now` (the same moment gives the same file), for
    each athlete number given."""
    now = now or utcnow()
    soon = now + timedelta(days=3)
    appointments = "Email,Start,Service,Price,Booked At,Status\n" + "".join(
        f"athlete{n}@example.com,{soon:%Y-%m-%dT%H:%M}Z,Massage,50,{now:%Y-%m-%dT%H:%M:%S}Z,"
        "booked\n"
        for n in numbers
    )
    return client.post(
        "/bookings/import",
        data={"csrf_token": client.csrf},
        files={"file": ("appointments.csv", appointments.encode(), "text/csv")},
    )


def _section(page: str, section_id: str) -> str:
    return page.split(f'id="{section_id}"')[1].split("</section>")[0]


def test_sorting_filtering_and_the_csv_agree(sent, signed_in):
    ascending = _rows(signed_in.get("/", params={"sort": "delivered", "dir": "asc"}).text)
    assert list(ascending) == ["summer-legs", "spring-back-care"]
    descending = _rows(signed_in.get("/", params={"sort": "delivered", "dir": "desc"}).text)
    assert list(descending) == ["spring-back-care", "summer-legs"]
    only_desk = _rows(signed_in.get("/", params={"segment": "desk_workers"}).text)
    assert list(only_desk) == ["summer-legs"]
    download = signed_in.get("/dashboard.csv", params={"sort": "delivered", "dir": "asc"})
    assert download.headers["content-type"].startswith("text/csv")
    lines = list(csv.DictReader(io.StringIO(download.text)))
    assert [line["campaign_slug"] for line in lines] == ["summer-legs", "spring-back-care"]
    assert lines[1]["booking_clicks"] == "10" and lines[1]["bookings"] == "no bookings imported"
    assert "complaints above 0.3%" in lines[1]["health"]


def test_the_api_carries_the_same_figures(sent):
    engine = sent.state.engine
    add_user(engine, "anna@clinic.example", "marketing", "correct horse battery")
    token = mint_api_token(engine, "anna@clinic.example", "tests")
    with TestClient(sent, base_url="http://127.0.0.1:8000") as api:
        api.headers["Authorization"] = f"Bearer {token}"
        compared = api.get("/api/metrics/comparison", params={"sort": "booking_clicks"}).json()
        campaign = api.get("/api/campaigns/spring-back-care/metrics").json()
        overview = api.get("/api/metrics/overview").json()
        assert api.get("/api/metrics/comparison", params={"sort": "nope"}).status_code == 422
    spring = compared["rows"][0]
    assert spring["campaign"] == "spring-back-care" and compared["bookings_imported"] is False
    assert spring["counts"]["booking_clicks"] == campaign["totals"]["booking_clicks"] == 10
    assert spring["figures"]["click_rate"] == campaign["figures"]["click_rate"] == 0.25
    assert spring["figures"]["bookings"] is None and campaign["figures"]["bookings"] is None
    assert spring["health"] == ["complaints above 0.3% (Gmail and Yahoo's limit)"]
    assert overview["totals"]["booking_clicks"] == 13
    assert overview["figures"]["bookings_imported"] is False


def test_the_campaign_pages_live_answer_draws_the_per_segment_table(sent, signed_in):
    answer = signed_in.get("/campaigns/spring-back-care/progress").json()
    assert answer["totals"]["delivered"] == 40
    row = re.search(r'<tr data-segment="athletes">(.*?)</tr>', answer["figures_html"], re.S)
    assert row is not None, answer["figures_html"]
    cells = dict(re.findall(r'data-segment-figure="([^"]+)">([^<]*)</td>', row[1]))
    assert (cells["delivered"], cells["booking_clicks"]) == ("40", "10")
    assert "Athletes" in row[1]
    assert 'data-figure="delivered">40<' in answer["figures_html"]
