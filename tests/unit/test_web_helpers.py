"""Pure helpers of the web app: redirects that stay on the site, the password policy, links in
an email, local times typed by staff, campaign slugs, which actions a state offers, charts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from pipeline.devserver.inbox import email_links
from pipeline.errors import InputError
from pipeline.web.auth import check_password_policy, check_role
from pipeline.web.staff.account import _safe_next
from pipeline.web.staff.campaign_preview import local_datetime, slug_for
from pipeline.web.staff.campaigns import _actions
from pipeline.web.staff.charts import trend_chart_svg

LONDON = SimpleNamespace(clinic=SimpleNamespace(zone=ZoneInfo("Europe/London")))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/campaigns/x?tab=plan", "/campaigns/x?tab=plan"),
        ("", "/"),
        (None, "/"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("campaigns", "/"),
    ],
)
def test_safe_next_keeps_only_paths_on_this_site(target, expected):
    assert _safe_next(target) == expected


def test_password_policy():
    check_password_policy("ten chars!")
    with pytest.raises(InputError, match="at least 10"):
        check_password_policy("short")
    with pytest.raises(InputError, match="space"):
        check_password_policy(" padded password ")


def test_roles_are_owner_and_marketing_only():
    assert check_role("owner") == "owner"
    with pytest.raises(InputError, match="owner or marketing"):
        check_role("admin")


def test_email_links_with_their_text_in_order_without_repeats():
    html = (
        '<p><a href="https://c.example/a">Read <b>more</b></a> '
        '<a href="https://c.example/u/tok">Unsubscribe</a> '
        '<a href="https://c.example/a">Read more</a> <a>no address</a></p>'
    )
    assert email_links(html) == [
        ("Read more", "https://c.example/a"),
        ("Unsubscribe", "https://c.example/u/tok"),
    ]


def test_local_times_are_read_in_the_clinics_zone():
    summer = local_datetime(LONDON, "2026-07-01", "10:00")
    winter = local_datetime(LONDON, "2026-12-01", "10:00:30")
    assert summer == datetime(2026, 7, 1, 9, 0, tzinfo=UTC)
    assert winter == datetime(2026, 12, 1, 10, 0, 30, tzinfo=UTC)
    with pytest.raises(InputError, match="YYYY-MM-DD and HH:MM"):
        local_datetime(LONDON, "1 July", "10am")


def test_local_times_that_daylight_saving_skips_or_repeats_are_refused():
    with pytest.raises(InputError, match="2026-03-29 01:30:00 Europe/London does not exist"):
        local_datetime(LONDON, "2026-03-29", "01:30")
    with pytest.raises(InputError, match="2026-10-25 01:30:00 Europe/London is ambiguous"):
        local_datetime(LONDON, "2026-10-25", "01:30")


def test_campaign_slugs_come_from_the_article_and_the_day():
    assert slug_for("Why-We Massage!", date(2026, 11, 21)) == "why-we-massage-20261121"
    assert slug_for("***", date(2026, 1, 2)) == "campaign-20260102"


@pytest.mark.parametrize(
    ("state", "offered"),
    [
        ("draft", {"edit", "approve", "cancel"}),
        ("approved", {"edit", "schedule", "cancel"}),
        ("scheduled", {"edit", "schedule", "pause", "cancel"}),
        ("sending", {"pause", "cancel"}),
        ("paused", {"resume", "cancel"}),
        ("sent", set()),
        ("cancelled", set()),
    ],
)
def test_a_campaign_page_offers_only_what_its_state_allows(state, offered):
    assert {name for name, allowed in _actions(state, "web").items() if allowed} == offered


def test_a_campaign_from_a_file_is_never_offered_for_editing():
    assert not _actions("draft", "file")["edit"]


def test_trend_chart_is_inline_svg_with_an_accessible_name():
    days = [date(2026, 11, day) for day in range(1, 8)]
    svg = trend_chart_svg(days, {"Opened": [0, 1, 2, 3, 2, 1, 0]}, title='Opens & "clicks"')
    assert svg.startswith('<svg role="img" aria-label="Opens &amp; &quot;clicks&quot;"')
    assert "<?xml" not in svg and "<!DOCTYPE" not in svg
