"""Starting a campaign on a real database (SQLite, then PostgreSQL) with the sample workspace:
articles synced, demo clients seeded, the campaign file synced and approved."""

import pytest
from sqlalchemy import select

from pipeline.campaigns import plan_by_slug
from pipeline.campaigns.actions import approve_campaign
from pipeline.campaigns.sync import sync_campaigns
from pipeline.content import sync_content
from pipeline.demo import seed_demo_contacts
from pipeline.errors import NotFoundError, StateError
from pipeline.outbox import start_campaign
from pipeline.segments import load_segments
from pipeline.store import open_engine
from pipeline.store.tables import campaigns, sends, variants
from tests.outbox_fakes import outbox_settings

SLUG = "full-treatment-for-back-pain"


@pytest.fixture
def settings(workspace_db):
    return outbox_settings(workspace_db)


@pytest.fixture
def ready(settings):
    """The engine of a workspace whose sample campaign is approved, with 300 demo clients."""
    engine = open_engine(settings.database_url)
    sync_content(engine, settings)
    seed_demo_contacts(engine, 300)
    sync_campaigns(engine, settings)
    approve_campaign(engine, SLUG, "owner@example.com")
    yield engine
    engine.dispose()


def test_starting_materialises_the_planned_audience_once(ready, settings):
    with ready.connect() as conn:
        segments = load_segments(settings.workspace)
        plan = plan_by_slug(conn, settings, SLUG, segments)
    report = start_campaign(ready, settings, SLUG)
    again = start_campaign(ready, settings, SLUG)
    assert report.started and not again.started
    assert again.state == "sending" and again.audience == report.audience
    planned = {variant.segment: variant.audience for variant in plan.variants}
    rows = {segment: sum(counts.values()) for segment, counts in report.variants.items()}
    assert rows == {segment: count for segment, count in planned.items() if count}
    assert report.audience == sum(planned.values()) > 0
    with ready.connect() as conn:
        assert (
            conn.execute(select(campaigns.c.state).where(campaigns.c.slug == SLUG)).scalar_one()
            == "sending"
        )
        stored = conn.execute(select(variants.c.segment, variants.c.tokens)).all()
        total = len(conn.execute(select(sends.c.id)).all())
    assert {segment for segment, _ in stored} == set(planned)
    assert all(tokens["html"] for _, tokens in stored)
    assert total == report.audience


def test_a_contact_in_several_segments_is_sent_one_variant(ready, settings):
    start_campaign(ready, settings, SLUG)
    with ready.connect() as conn:
        contact_ids = conn.execute(select(sends.c.contact_id)).scalars().all()
    assert len(contact_ids) == len(set(contact_ids))


def test_a_draft_campaign_is_not_started(settings):
    engine = open_engine(settings.database_url)
    sync_content(engine, settings)
    sync_campaigns(engine, settings)
    with pytest.raises(StateError, match="approve it first") as refused:
        start_campaign(engine, settings, SLUG)
    # The command that helps is for the command line only, never in a web page's message.
    assert "clinicmail" not in str(refused.value)
    assert refused.value.command_hint == f"`clinicmail campaign approve {SLUG}`"
    with pytest.raises(NotFoundError, match="load campaigns/") as missing:
        start_campaign(engine, settings, "no-such-campaign")
    assert "clinicmail sync" in missing.value.for_command_line()
    engine.dispose()


def test_check_errors_block_sending_and_write_nothing(ready, settings):
    # A real backend with links clients cannot reach is an error, not a warning.
    unreachable = settings.model_copy(
        update={"delivery": settings.delivery.model_copy(update={"backend": "sendgrid"})}
    )
    with pytest.raises(StateError, match=r"was not started: its checks found \d+ error"):
        start_campaign(ready, unreachable, SLUG)
    with ready.connect() as conn:
        assert (
            conn.execute(select(campaigns.c.state).where(campaigns.c.slug == SLUG)).scalar_one()
            == "approved"
        )
        assert conn.execute(select(sends.c.id)).first() is None
        assert conn.execute(select(variants.c.id)).first() is None
