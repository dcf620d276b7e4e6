"""The owner's weekly report: built from the metrics, rendered through MJML, with the chart as an
inline Content-ID image in the .eml and embedded in the .html."""

import email
from datetime import UTC, datetime
from email import policy

import pytest

from pipeline.config import load_settings
from pipeline.errors import InputError
from pipeline.report import CHART_CID, report_week, send_weekly_report, write_weekly_report
from pipeline.store.users import create_user

MONDAY_MORNING = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


@pytest.fixture
def settings(workspace_db):
    return load_settings(workspace_db)


def test_the_week_is_the_seven_local_days_before_today(settings):
    assert [str(day) for day in report_week(MONDAY_MORNING, settings)] == [
        "2026-11-16",
        "2026-11-22",
    ]


def test_the_eml_goes_to_the_owners_with_an_inline_chart(engine, settings, tmp_path):
    with engine.begin() as conn:
        create_user(conn, "owner@clinic.example", "owner", "x")
        create_user(conn, "staff@clinic.example", "marketing", "x")
    out = write_weekly_report(engine, settings, tmp_path / "week.eml", now=MONDAY_MORNING)
    message = email.message_from_bytes(out.read_bytes(), policy=policy.default)
    assert message["To"] == "owner@clinic.example"
    assert message["Subject"] == "Weekly report: 16 Nov – 22 Nov 2026"
    html = message.get_body(("html",)).get_content()
    assert f'src="cid:{CHART_CID}"' in html
    assert "No campaign sent emails this week." in html
    text = message.get_body(("plain",)).get_content()
    assert "weekly report, Monday 16 November to Sunday 22 November 2026" in text
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert len(images) == 1
    assert images[0]["Content-ID"] == f"<{CHART_CID}>"
    assert images[0].get_content().startswith(b"\x89PNG")


def test_the_html_page_embeds_the_chart(engine, settings, tmp_path):
    out = write_weekly_report(engine, settings, tmp_path / "week.html", now=MONDAY_MORNING)
    page = out.read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in page
    assert "cid:" not in page


def test_another_extension_is_refused(engine, settings, tmp_path):
    with pytest.raises(InputError, match=r"written as \.eml or \.html"):
        write_weekly_report(engine, settings, tmp_path / "week.pdf", now=MONDAY_MORNING)


def test_the_report_is_sent_to_each_owner_through_the_backend(engine, workspace_db, monkeypatch):
    monkeypatch.setenv("CLINICMAIL_DELIVERY_BACKEND", "file")
    settings = load_settings(workspace_db)
    with engine.begin() as conn:
        create_user(conn, "owner@clinic.example", "owner", "x")
        create_user(conn, "partner@clinic.example", "owner", "x")
    assert send_weekly_report(engine, settings, now=MONDAY_MORNING) == [
        "owner@clinic.example",
        "partner@clinic.example",
    ]
    written = sorted((settings.var_dir / "outbox" / "messages").glob("*.eml"))
    messages = [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in written]
    assert sorted(m["To"] for m in messages) == ["owner@clinic.example", "partner@clinic.example"]
    assert all(any(part["Content-ID"] == f"<{CHART_CID}>" for part in m.walk()) for m in messages)


def test_without_an_owner_sending_says_how_to_add_one(engine, settings):
    with pytest.raises(InputError, match="no owner to send the weekly report to") as refused:
        send_weekly_report(engine, settings, now=MONDAY_MORNING)
    assert "--role owner" in refused.value.for_command_line()
