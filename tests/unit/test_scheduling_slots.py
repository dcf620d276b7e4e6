"""The next slot the sending rules allow, and a chosen time explained in staff words."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from pipeline.campaigns.slots import (
    explain_proposal,
    explain_slot,
    next_allowed_slot,
    readable_moment,
)
from pipeline.config import Settings

LONDON_WINTER = "Europe/London"  # UTC+0 in December, so local and UTC clocks agree below


def _settings(**sending) -> Settings:
    return Settings.model_validate(
        {
            "workspace": Path("/nonexistent"),
            "clinic": {
                "name": "Harbourside Clinic",
                "postal_address": "14 Quay Street, Bristol BS1 4XY",
                "timezone": LONDON_WINTER,
                "website": "https://clinic.example",
                "booking_url": "https://clinic.example/book",
            },
            "sender": {"name": "Harbourside Clinic", "email": "news@clinic.example"},
            "sending": {"quiet_hours": "21:00-08:00", **sending},
            "database_url": "sqlite://",
            "secret_key": "unit-test-secret-key-0123456789",
        }
    )


def _at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def test_the_proposal_is_a_few_minutes_ahead_on_a_five_minute_mark():
    assert next_allowed_slot(_settings(), _at(3, 14, 2)) == _at(3, 14, 15)


def test_a_lead_under_five_minutes_is_rounded_up_to_the_minute_only():
    settings = _settings(proposal_lead_minutes=1)
    assert next_allowed_slot(settings, _at(3, 14, 2)) == _at(3, 14, 3)
    half_past = _at(3, 14, 2).replace(second=30)
    assert next_allowed_slot(settings, half_past) == _at(3, 14, 4)


def test_in_quiet_hours_the_proposal_is_when_they_end():
    assert next_allowed_slot(_settings(), _at(3, 22, 30)) == _at(4, 8)


def test_a_time_in_quiet_hours_is_explained_before_it_is_chosen():
    explanation = explain_slot(_settings(), _at(3, 23), _at(3, 14))
    assert explanation.possible
    assert explanation.goes_out == _at(4, 8)
    assert explanation.sentence == "Goes out 08:00 tomorrow, after quiet hours (21:00–08:00)."


def test_a_closure_date_is_named():
    settings = _settings(closure_dates=[date(2026, 12, 4)])
    explanation = explain_slot(settings, _at(4, 10), _at(3, 14))
    assert explanation.goes_out == _at(5, 8)
    assert "the clinic is closed that day" in explanation.sentence
    assert "08:00 on Saturday 5 December" in explanation.sentence


def test_a_past_time_is_refused_with_the_next_possible_one():
    explanation = explain_slot(_settings(), _at(3, 9), _at(3, 14))
    assert not explanation.possible
    assert explanation.sentence == (
        "That time has passed: choose a later one. The next possible time is 14:10 today."
    )
    assert "--at" not in explanation.sentence


def test_clients_at_the_weekly_limit_are_counted_in_the_explanation():
    explanation = explain_slot(_settings(), _at(3, 15), _at(3, 14), at_weekly_cap=12)
    assert explanation.sentence == (
        "Goes out 15:00 today. 12 clients have already had 2 emails from us in the past 7 days "
        "and will be skipped (the weekly limit)."
    )


def test_moments_read_as_staff_say_them():
    now = _at(3, 14)
    zone = _settings().clinic.zone
    assert readable_moment(_at(3, 16, 30), now, zone) == "16:30 today"
    assert readable_moment(_at(10, 8), now, zone) == "08:00 on Thursday 10 December"


def test_a_proposal_moved_by_quiet_hours_says_so():
    explanation = explain_proposal(_settings(), _at(3, 5, 14))
    assert explanation.goes_out == _at(3, 8)
    assert explanation.sentence == (
        "Goes out 08:00 today, the first time after quiet hours (21:00–08:00)."
    )


def test_a_proposal_the_rules_allow_is_just_its_time():
    assert explain_proposal(_settings(), _at(3, 14)).sentence == "Goes out 14:10 today."
