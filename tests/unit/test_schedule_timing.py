"""Time rules: DST-safe local times and cron, the grace window, quiet hours and closures."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.config import ClinicSection, SenderSection, SendingSection, Settings
from pipeline.errors import InputError
from pipeline.timerules import (
    beyond_grace,
    local_to_utc,
    next_occurrence,
    parse_local_time,
    sending_allowed,
)

LONDON = ZoneInfo("Europe/London")


def _settings(**sending) -> Settings:
    return Settings(
        workspace="/nonexistent",
        clinic=ClinicSection(
            name="Clinic", postal_address="1 High Street, Town", website="https://c.example",
            booking_url="https://c.example/book",
        ),
        sender=SenderSection(name="Clinic", email="news@c.example"),
        sending=SendingSection(**sending),
        database_url="sqlite://",
        secret_key="x",
    )  # fmt: skip


def test_the_spring_forward_gap_is_an_error_naming_the_time():
    with pytest.raises(InputError, match=r"2026-03-29 01:30:00 Europe/London does not exist"):
        parse_local_time("2026-03-29 01:30", LONDON)


def test_the_autumn_repeated_hour_is_an_error_naming_the_time():
    with pytest.raises(InputError, match=r"2026-10-25 01:30:00 Europe/London is ambiguous"):
        parse_local_time("2026-10-25 01:30", LONDON)


def test_local_times_either_side_of_dst_convert_with_their_own_offset():
    assert parse_local_time("2026-03-28 09:00", LONDON) == datetime(2026, 3, 28, 9, tzinfo=UTC)
    assert parse_local_time("2026-03-30 09:00:00", LONDON) == datetime(2026, 3, 30, 8, tzinfo=UTC)
    assert local_to_utc(datetime(2026, 10, 25, 2, 0), LONDON) == datetime(
        2026, 10, 25, 2, tzinfo=UTC
    )


def test_a_malformed_time_says_what_it_expected():
    with pytest.raises(InputError, match=r"--at: '29/03/2026' is not a time like"):
        parse_local_time("29/03/2026", LONDON)


@pytest.mark.parametrize(
    "start", [datetime(2026, 3, 25, 12, tzinfo=UTC), datetime(2026, 10, 22, 12, tzinfo=UTC)]
)
def test_a_daily_nine_oclock_cron_stays_nine_local_across_the_change(start):
    moment = start
    for _ in range(8):
        moment = next_occurrence("0 9 * * *", LONDON, moment)
        local = moment.astimezone(LONDON)
        assert (local.hour, local.minute) == (9, 0)
    offsets = {
        next_occurrence("0 9 * * *", LONDON, start + timedelta(days=day)).utcoffset()
        for day in range(8)
    }
    assert offsets == {timedelta(0)}  # returned in UTC
    hours_utc = {
        next_occurrence("0 9 * * *", LONDON, start + timedelta(days=day)).hour for day in range(8)
    }
    assert hours_utc == {8, 9}  # the UTC hour moves so the local hour does not


def test_next_occurrence_is_strictly_after():
    nine = datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert next_occurrence("0 9 * * *", LONDON, nine) == nine + timedelta(days=1)


def test_a_bad_cron_is_an_input_error():
    with pytest.raises(InputError, match="not a cron expression"):
        next_occurrence("every day", LONDON, datetime(2026, 1, 1, tzinfo=UTC))


def test_the_grace_window_is_inclusive():
    due = datetime(2026, 11, 23, 9, tzinfo=UTC)
    assert not beyond_grace(due, due + timedelta(minutes=60), 60)
    assert beyond_grace(due, due + timedelta(minutes=61), 60)


def test_sending_is_allowed_in_the_day_and_not_in_quiet_hours():
    settings = _settings()
    assert sending_allowed(datetime(2026, 11, 23, 12, tzinfo=UTC), settings) is True
    resume = sending_allowed(datetime(2026, 11, 23, 21, 0, tzinfo=UTC), settings)
    assert resume == datetime(2026, 11, 24, 8, tzinfo=UTC)
    assert sending_allowed(datetime(2026, 11, 24, 7, 59, tzinfo=UTC), settings) == resume
    assert sending_allowed(datetime(2026, 11, 24, 8, 0, tzinfo=UTC), settings) is True


def test_quiet_hours_are_local_time_in_summer():
    settings = _settings()
    # 20:30 UTC in July is 21:30 in London: quiet until 08:00 BST, 07:00 UTC.
    assert sending_allowed(datetime(2026, 7, 1, 20, 30, tzinfo=UTC), settings) == datetime(
        2026, 7, 2, 7, tzinfo=UTC
    )


def test_closure_dates_block_the_whole_local_day_and_chain_with_quiet_hours():
    settings = _settings(closure_dates=(date(2026, 12, 25), date(2026, 12, 26)))
    resume = sending_allowed(datetime(2026, 12, 25, 12, tzinfo=UTC), settings)
    assert resume == datetime(2026, 12, 27, 8, tzinfo=UTC)


def test_daytime_quiet_hours_and_no_quiet_hours():
    assert sending_allowed(datetime(2026, 11, 23, 3, tzinfo=UTC), _settings(quiet_hours="")) is True
    lunch = _settings(quiet_hours="12:00-13:00")
    assert sending_allowed(datetime(2026, 11, 23, 12, 30, tzinfo=UTC), lunch) == datetime(
        2026, 11, 23, 13, tzinfo=UTC
    )
    assert sending_allowed(datetime(2026, 11, 23, 13, 0, tzinfo=UTC), lunch) is True
