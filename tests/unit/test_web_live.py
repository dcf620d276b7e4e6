"""How long a campaign's page follows its figures: from scheduled to 48 hours after sending."""

from datetime import UTC, datetime, timedelta

from pipeline.models import CampaignLifecycle
from pipeline.web.staff.live import poll_interval_seconds

NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


def _campaign(state: str, **values) -> CampaignLifecycle:
    return CampaignLifecycle(
        id=1, slug="c", name="C", origin="web", state=state, spec_hash="", **values
    )


def test_a_sending_campaign_is_followed_closely():
    assert poll_interval_seconds(_campaign("sending"), NOW) == 3


def test_a_campaign_due_soon_is_followed_closely_and_a_later_one_less_often():
    assert (
        poll_interval_seconds(_campaign("scheduled", scheduled_for=NOW + timedelta(minutes=2)), NOW)
        == 3
    )
    assert (
        poll_interval_seconds(_campaign("scheduled", scheduled_for=NOW + timedelta(days=2)), NOW)
        == 20
    )


def test_a_sent_campaign_is_followed_for_48_hours_then_its_figures_are_final():
    sent = _campaign("sent", finished_at=NOW - timedelta(hours=47))
    assert poll_interval_seconds(sent, NOW) == 30
    assert (
        poll_interval_seconds(_campaign("sent", finished_at=NOW - timedelta(hours=49)), NOW) is None
    )


def test_a_draft_or_cancelled_campaign_is_not_followed():
    assert poll_interval_seconds(_campaign("draft"), NOW) is None
    assert poll_interval_seconds(_campaign("cancelled"), NOW) is None
