"""The client's pages on a phone: at 375 px wide the unsubscribe, preferences and not-found
pages of the running app do not scroll sideways and their buttons are on screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from pipeline.config import load_settings
from pipeline.render.message import recipient_values
from pipeline.store import open_engine
from pipeline.store.tables import contacts
from tests.e2e.conftest import RunningClinic

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PHONE = 375


@pytest.fixture
def client_links(clinic: RunningClinic, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Links of the first demo client, signed with the running app's key (the harness sets it).
    The demo simulation is seeded, so this client's simulated fate is the same in every run."""
    monkeypatch.delenv("CLINICMAIL_DATABASE_URL", raising=False)
    monkeypatch.setenv("CLINICMAIL_SECRET_KEY", "e2e-secret-key")
    # The running app's links follow the port it listens on (no public_url is set).
    monkeypatch.setenv("CLINICMAIL_PUBLIC_URL", clinic.url)
    settings = load_settings(clinic.workspace)
    engine = open_engine(settings.database_url)
    with engine.connect() as conn:
        row = conn.execute(
            select(contacts.c.id, contacts.c.email, contacts.c.first_name).order_by(contacts.c.id)
        ).first()
    engine.dispose()
    assert row is not None, "the demo clinic has no contacts"
    return recipient_values(settings, row.id, row.email, row.first_name, None)


def test_public_pages_fit_a_phone(browser, clinic: RunningClinic, client_links):
    context = browser.new_context(viewport={"width": PHONE, "height": 740})
    page = context.new_page()
    pages = {
        client_links["unsubscribe_url"]: "button:text('Unsubscribe')",
        client_links["preferences_url"]: "button:text('Save topics')",
        f"{clinic.url}/u/not-a-real-link": "h1:text('We could not open this link')",
    }
    for url, landmark in pages.items():
        page.goto(url)
        expect(page.locator(landmark)).to_be_in_viewport()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE, f"{url} is {width} px wide at {PHONE} px"
    context.close()
