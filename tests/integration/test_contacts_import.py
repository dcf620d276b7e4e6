"""Importing booking-system exports on SQLite and PostgreSQL: each CSV oddity, merging,
rejections with spreadsheet row numbers, all-or-nothing for unreadable files, dry runs, and
erasure that sticks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pipeline.contacts import importer
from pipeline.contacts.columns import load_mapping
from pipeline.contacts.importer import import_contacts
from pipeline.errors import CsvError, NotFoundError
from pipeline.store.contacts import (
    contact_export,
    erase_contact,
    get_contact,
    mailable_condition,
    unsubscribe_contact,
    why_not_mailable,
)
from pipeline.store.tables import contacts

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _file(tmp_path: Path, content: bytes | str, name: str = "clients.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(contacts)).scalar_one()


def _contact(engine, email):
    with engine.connect() as conn:
        return get_contact(conn, email)


def _mailable(engine) -> set[str]:
    with engine.connect() as conn:
        query = select(contacts.c.email_key).where(mailable_condition(NOW))
        return set(conn.execute(query).scalars())


def test_utf8_with_bom_crlf_and_quoted_newlines(engine, tmp_path):
    content = (
        "\ufeffFirst Name,Last Name,Email,Notes,Tags\r\n"
        'Zoë,Brontë,zoe@example.org,"Prefers mornings\r\nNo deep tissue",runner\r\n'
        "Seán,Ó Briain,sean@example.org,,\r\n"
    )
    report = import_contacts(engine, _file(tmp_path, content), now=NOW)
    assert (report.read, report.created, report.rejected) == (2, 2, [])
    zoe = _contact(engine, "ZOE@example.org")
    assert (zoe.first_name, zoe.last_name, zoe.tags) == ("Zoë", "Brontë", {"runner"})
    assert report.ignored_columns == ("Notes",)
    assert _contact(engine, "sean@example.org").last_name == "Ó Briain"


def test_utf8_without_bom(engine, tmp_path):
    import_contacts(engine, _file(tmp_path, "Email,First Name\nzoe@example.org,Zoë\n"), now=NOW)
    assert _contact(engine, "zoe@example.org").first_name == "Zoë"


def test_windows_1252_falls_back(engine, tmp_path):
    content = "Email;First Name;Last Name\r\nzoe@example.org;Zoë;O’Brien\r\n".encode("cp1252")
    report = import_contacts(engine, _file(tmp_path, content), now=NOW)
    assert report.created == 1
    zoe = _contact(engine, "zoe@example.org")
    assert (zoe.first_name, zoe.last_name) == ("Zoë", "O’Brien")


def test_semicolons_and_headings_in_any_case_and_spacing(engine, tmp_path):
    content = (
        "  FIRST NAME ; last_name;E-mail Address;EMAIL OPT IN;job title;Surgery Date\n"
        "Ann;Lee;ann@example.org;Yes;Accountant;03/02/2026\n"
    )
    import_contacts(engine, _file(tmp_path, content), now=NOW)
    ann = _contact(engine, "ann@example.org")
    assert (ann.first_name, ann.last_name, ann.consent_status) == ("Ann", "Lee", "subscribed")
    assert ann.attributes == {"occupation": "Accountant", "surgery_date": "2026-02-03"}
    assert ann.consent_wording == "'EMAIL OPT IN' column of clients.csv"
    assert ann.consent_source == "import:clients.csv" and ann.consent_at == NOW


def test_a_mapping_file_names_unusual_columns(engine, tmp_path):
    mapping = _file(
        tmp_path,
        'columns:\n  "Client Mail": email\n  "Role": occupation\n  "Injury": attributes.injury\n'
        '  "Agreed": consent\n  "Agreed On": consent_date\n  "Form": consent_wording\n'
        "dates: month_first\n",
        "mapping.yaml",
    )
    content = (
        "Client Mail,Role,Injury,Agreed,Agreed On,Form,Surgery Date\n"
        "kim@example.org,Nurse,ankle,yes,2025-06-01,Website sign-up form,06/01/2026\n"
    )
    import_contacts(engine, _file(tmp_path, content), mapping=load_mapping(mapping), now=NOW)
    kim = _contact(engine, "kim@example.org")
    assert kim.attributes == {
        "occupation": "Nurse",
        "injury": "ankle",
        "surgery_date": "2026-06-01",
    }
    assert kim.consent_at == datetime(2025, 6, 1, tzinfo=UTC)
    assert kim.consent_wording == "Website sign-up form"


def test_a_bad_mapping_file_names_its_line(tmp_path):
    path = _file(tmp_path, "columns:\n  Mail: email\n  Job: '!!'\n", "m.yaml")
    with pytest.raises(CsvError, match=r"m.yaml:3: heading 'Job'"):
        load_mapping(path)


def test_duplicates_merge_within_the_file_and_with_the_database(engine, tmp_path):
    first = (
        "Email,First Name,Last Name,Tags,Occupation,Marketing Consent\n"
        "Jo@Example.org,Jo,,runner,Nurse,yes\n"
        "jo@example.org,,Bloggs,vip,,\n"
        "JO@EXAMPLE.ORG ,Joanna,,,,\n"
    )
    report = import_contacts(engine, _file(tmp_path, first), now=NOW)
    assert (report.read, report.created, report.updated, report.unchanged) == (3, 1, 2, 0)
    assert _count(engine) == 1
    jo = _contact(engine, "jo@example.org")
    assert (jo.email, jo.first_name, jo.last_name) == ("Jo@example.org", "Joanna", "Bloggs")
    assert jo.tags == {"runner", "vip"} and jo.attributes == {"occupation": "Nurse"}
    second = "Email,Tags,Occupation\njo@example.org,cyclist,Teacher\nJO@example.org,,\n"
    report = import_contacts(engine, _file(tmp_path, second), now=NOW)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    jo = _contact(engine, "jo@example.org")
    assert jo.tags == {"runner", "vip", "cyclist"} and jo.attributes == {"occupation": "Teacher"}
    assert jo.consent_status == "subscribed"


def test_the_same_file_twice_changes_nothing(engine, tmp_path):
    path = _file(tmp_path, "Email,First Name,Tags\na@example.org,A,x\nb@example.org,B,\n")
    import_contacts(engine, path, now=NOW)
    report = import_contacts(engine, path, now=NOW)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)


def test_duplicates_across_chunks_merge(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK_ROWS", 2)
    rows = "".join(f"c{n}@example.org,tag{n}\n" for n in range(5))
    content = "Email,Tags\n" + rows + "c0@example.org,late\n"
    report = import_contacts(engine, _file(tmp_path, content), now=NOW)
    assert (report.read, report.created, report.updated) == (6, 5, 1)
    assert _contact(engine, "c0@example.org").tags == {"tag0", "late"}


def test_rejections_give_spreadsheet_row_column_and_reason_and_keep_the_good_rows(engine, tmp_path):
    content = (
        "Email,First Name,Marketing Consent,Last Visit\n"  # row 1
        'good1@example.org,"Two\nlines",yes,\n'  # row 2 (one spreadsheet row, two lines)
        "not-an-address,Bad,yes,\n"  # row 3
        "\n"  # row 4: blank, skipped
        "good2@example.org,Fine,maybe,\n"  # row 5
        "good3@example.org,Late,no,2025-02-30\n"  # row 6
        ",Nobody,yes,\n"  # row 7
        "good4@example.org,Ok,,2025-02-28\n"  # row 8
    )
    report = import_contacts(engine, _file(tmp_path, content), now=NOW)
    assert report.read == 6 and report.created == 2
    rejected = [(r.row, r.column) for r in report.rejected]
    assert rejected == [(3, "Email"), (5, "Marketing Consent"), (6, "Last Visit"), (7, "Email")]
    assert "not a valid email address" in report.rejected[0].reason
    assert "not a consent answer" in report.rejected[1].reason
    assert "not a real date" in report.rejected[2].reason
    assert "no email address" in report.rejected[3].reason
    assert report.as_dict()["rejected"][0] == {
        "row": 3, "column": "Email", "reason": report.rejected[0].reason,
    }  # fmt: skip
    assert _count(engine) == 2


def test_a_row_without_consent_is_imported_but_not_mailable(engine, tmp_path):
    content = "Email,Marketing Consent\nyes@example.org,yes\nnone@example.org,\nno@example.org,no\n"
    import_contacts(engine, _file(tmp_path, content), now=NOW)
    assert _count(engine) == 3
    assert _mailable(engine) == {"yes@example.org"}
    with engine.connect() as conn:
        none_id = get_contact(conn, "none@example.org").id
        assert why_not_mailable(conn, none_id, NOW) == "no marketing consent recorded"


def test_an_unsubscribed_contact_is_never_resubscribed_by_an_import(engine, tmp_path):
    path = _file(tmp_path, "Email,Marketing Consent\nsam@example.org,yes\n")
    import_contacts(engine, path, now=NOW)
    with engine.begin() as conn:
        unsubscribe_contact(conn, get_contact(conn, "sam@example.org").id, "unsubscribe-link", NOW)
    report = import_contacts(engine, path, now=NOW)
    assert report.unchanged == 1
    assert _contact(engine, "sam@example.org").consent_status == "unsubscribed"
    assert _mailable(engine) == set()


@pytest.mark.parametrize(
    "broken",
    [
        'Email,First Name\nok1@example.org,A\nok2@example.org,"unclosed\n',
        "Email,First Name\nok1@example.org,A\nok2@example.org,B\x00\n",
        b"Email,First Name\nok1@example.org,A\nok2@example.org,\x81\x8d\x8f\x90\x9d\n",
        "Name,Phone\nAnn,0123\n",
        "",
    ],
    ids=["unclosed-quote", "nul-byte", "not-text", "no-email-column", "empty"],
)
def test_a_file_that_cannot_be_parsed_changes_nothing(engine, tmp_path, monkeypatch, broken):
    monkeypatch.setattr(importer, "CHUNK_ROWS", 1)  # the good rows were written before the fault
    with pytest.raises(CsvError):
        import_contacts(engine, _file(tmp_path, broken), now=NOW)
    assert _count(engine) == 0


def test_a_dry_run_reports_the_same_and_writes_nothing(engine, tmp_path):
    path = _file(tmp_path, "Email,Tags\na@example.org,x\na@example.org,y\nbad,z\n")
    dry = import_contacts(engine, path, dry_run=True, now=NOW)
    assert _count(engine) == 0
    real = import_contacts(engine, path, now=NOW)
    assert dry.as_dict() | {"dry_run": False} == real.as_dict()
    assert (real.created, real.updated, len(real.rejected)) == (1, 1, 1)


def test_export_shows_everything_and_why_not_mailable(engine, tmp_path):
    content = (
        "Email,First Name,Tags,Occupation,Marketing Consent\nlee@example.org,Lee,desk,Editor,\n"
    )
    import_contacts(engine, _file(tmp_path, content), now=NOW)
    with engine.connect() as conn:
        document = contact_export(conn, "LEE@example.org", NOW)
    assert document["email"] == "lee@example.org" and document["first_name"] == "Lee"
    assert document["tags"] == ["desk"] and document["attributes"] == {"occupation": "Editor"}
    assert document["consent"]["status"] == "none"
    assert document["mailable"] is False
    assert document["why_not_mailable"] == "no marketing consent recorded"
    assert document["sends"] == [] and document["suppressions"] == []


def test_erased_then_reimported_stays_unmailable(engine, tmp_path):
    path = _file(tmp_path, "Email,First Name,Marketing Consent\nmia@example.org,Mia,yes\n")
    import_contacts(engine, path, now=NOW)
    assert _mailable(engine) == {"mia@example.org"}
    with engine.begin() as conn:
        assert erase_contact(conn, "Mia@Example.org", "erase-command", NOW) is True
    assert _count(engine) == 0
    with pytest.raises(NotFoundError):
        _contact(engine, "mia@example.org")
    report = import_contacts(engine, path, now=NOW)
    assert report.created == 0
    assert [(r.row, r.column) for r in report.rejected] == [(2, "Email")]
    assert "erased on request" in report.rejected[0].reason
    assert _mailable(engine) == set() and _count(engine) == 0
    with engine.connect() as conn:
        document = contact_export(conn, "mia@example.org", NOW)
    assert document["mailable"] is False and "first_name" not in document
    assert [s["reason"] for s in document["suppressions"]] == ["erased"]


def test_erasing_someone_not_held_still_protects_them(engine, tmp_path):
    with engine.begin() as conn:
        assert erase_contact(conn, "ghost@example.org", "erase-command", NOW) is False
    import_contacts(engine, _file(tmp_path, "Email,Marketing Consent\nghost@example.org,yes\n"))
    assert _count(engine) == 0


def test_progress_is_reported_per_chunk_up_to_the_whole_file(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "CHUNK_ROWS", 10)
    path = _file(tmp_path, "Email\n" + "".join(f"p{n}@example.org\n" for n in range(35)))
    seen: list[tuple[int, int]] = []
    import_contacts(engine, path, now=NOW, progress=lambda done, total: seen.append((done, total)))
    assert len(seen) == 4
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (path.stat().st_size, path.stat().st_size)


def test_imported_contacts_read_back_and_match_segment_rules(engine, tmp_path):
    from datetime import date

    from pipeline.models import Condition, Rule, Segment
    from pipeline.store.contacts import segment_condition

    content = "Email,Occupation,Surgery Date,Marketing Consent\nol@example.org,Web Developer,2026-01-20,yes\n"  # noqa: E501
    import_contacts(engine, _file(tmp_path, content), now=NOW)
    rule = Rule("all", (Condition("attributes.occupation", "contains", "developer"),
                        Condition("attributes.surgery_date", "within", ("months", 3))))  # fmt: skip
    segment = Segment("s", "S", "s0s0", False, 0, rule)
    with engine.connect() as conn:
        found = conn.execute(
            select(contacts.c.email, contacts.c.created_at, contacts.c.topics).where(
                segment_condition(segment, date(2026, 3, 1)), mailable_condition(NOW)
            )
        ).one()
    assert found == ("ol@example.org", NOW, [])


def test_export_lists_sends_and_erasure_keeps_them_detached(engine, tmp_path):
    from pipeline.store.tables import campaigns, events, sends, variants

    import_contacts(engine, _file(tmp_path, "Email,Marketing Consent\nray@example.org,yes\n"))
    with engine.begin() as conn:
        ray = get_contact(conn, "ray@example.org").id
        campaign = conn.execute(
            campaigns.insert().returning(campaigns.c.id),
            {"slug": "spring", "name": "Spring", "origin": "file", "spec": {}, "spec_hash": "0",
             "state": "sent", "created_at": NOW, "updated_at": NOW},
        ).scalar_one()  # fmt: skip
        variant = conn.execute(
            variants.insert().returning(variants.c.id),
            {"campaign_id": campaign, "segment": "general", "segment_code": "s0e4",
             "subject": "Spring", "preheader": "", "score": 0.5, "matches": {}, "excerpt": [],
             "html": "", "text": "", "tokens": {}, "created_at": NOW},
        ).scalar_one()  # fmt: skip
        send = conn.execute(
            sends.insert().returning(sends.c.id),
            {"campaign_id": campaign, "contact_id": ray, "variant_id": variant, "status": "sent",
             "attempts": 1, "queued_at": NOW, "sent_at": NOW, "updated_at": NOW},
        ).scalar_one()  # fmt: skip
        conn.execute(
            events.insert(),
            {"sg_event_id": "e1", "send_id": send, "campaign_id": campaign, "variant_id": variant,
             "event": "open", "occurred_at": NOW, "machine_open": False, "simulated": False,
             "received_at": NOW},
        )  # fmt: skip
        document = contact_export(conn, "ray@example.org", NOW)
    [sent] = document["sends"]
    assert (sent["campaign"], sent["segment"], sent["status"]) == ("spring", "general", "sent")
    assert [event["event"] for event in sent["events"]] == ["open"]
    with engine.begin() as conn:
        erase_contact(conn, "ray@example.org", "erase-command", NOW)
        kept = conn.execute(select(sends.c.contact_id, sends.c.status)).one()
    assert tuple(kept) == (None, "sent")
