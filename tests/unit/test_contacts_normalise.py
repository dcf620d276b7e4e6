"""Normalising contact values, recognising headings and merging a row into a contact: pure."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import pytest

from pipeline.contacts.columns import ColumnMapping, heading_key, plan_columns
from pipeline.contacts.csvfile import sniff_delimiter
from pipeline.contacts.importer import ParsedRow, merge
from pipeline.contacts.normalise import (
    InvalidValue,
    consent_answer,
    is_valid_address,
    normalise_email,
    parse_date,
    parse_datetime,
    split_tags,
)
from pipeline.errors import CsvError
from pipeline.identity import email_hash, tags_from_column, tags_to_column

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("sam@example.com", True),
        ("Sam.O'Brien+news@Example.co.uk", True),
        ("Sam Example <sam@example.com>", False),
        ("Sam Example", False),
        (" sam@example.com", False),
        ("someone@localhost", False),
        ("two@at@example.com", False),
        ("", False),
    ],
)
def test_the_one_address_check(value: str, valid: bool):
    """What the import, test sends, the SendGrid backend and the local server all accept."""
    assert is_valid_address(value) is valid


def test_email_is_trimmed_with_its_domain_lower_cased():
    assert normalise_email("  Jane.Doe@Example.ORG ") == "Jane.Doe@example.org"


@pytest.mark.parametrize(
    "bad", ["", "jane", "jane@", "@example.org", "jane@@example.org", "a b@x.org"]
)
def test_bad_addresses_are_refused_with_a_reason(bad):
    with pytest.raises(InvalidValue):
        normalise_email(bad)


def test_email_hash_is_sha256_of_the_lower_cased_trimmed_address():
    expected = hashlib.sha256(b"jane@example.org").hexdigest()
    assert email_hash(" Jane@Example.org ") == expected


def test_tags_split_on_commas_semicolons_and_bars_and_store_between_commas():
    tags = split_tags("Runner; Post Op | VIP client,  ,")
    assert tags == {"runner", "post-op", "vip-client"}
    assert tags_to_column(tags) == ",post-op,runner,vip-client,"
    assert tags_from_column(",post-op,runner,vip-client,") == tags
    assert tags_to_column(()) == ","


@pytest.mark.parametrize(
    ("cell", "day_first", "expected"),
    [
        ("2025-03-21", True, date(2025, 3, 21)),
        ("2025-03-21 14:30", True, date(2025, 3, 21)),
        ("21/03/2025", True, date(2025, 3, 21)),
        ("03/21/2025", False, date(2025, 3, 21)),
        ("21.03.2025", True, date(2025, 3, 21)),
        ("1/2/99", True, date(1999, 2, 1)),
    ],
)
def test_dates_read_in_the_usual_export_forms(cell, day_first, expected):
    assert parse_date(cell, day_first=day_first) == expected


@pytest.mark.parametrize("cell", ["31/02/2025", "next Tuesday", "2025-13-01"])
def test_impossible_dates_are_refused(cell):
    with pytest.raises(InvalidValue):
        parse_date(cell)


def test_timestamps_without_a_zone_are_utc():
    assert parse_datetime("2025-03-21T10:00:00") == datetime(2025, 3, 21, 10, tzinfo=UTC)
    assert parse_datetime("21/03/2025") == datetime(2025, 3, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    ("cell", "status"),
    [("Yes", "subscribed"), ("TRUE", "subscribed"), ("1", "subscribed"), ("Opted in", "subscribed"),
     ("no", "unsubscribed"), ("0", "unsubscribed"), ("Opted-Out", "unsubscribed"), ("", None),
     ("none", "none")],
)  # fmt: skip
def test_consent_answers(cell, status):
    assert consent_answer(cell) == status


def test_an_unknown_consent_answer_is_refused():
    with pytest.raises(InvalidValue, match="'maybe' is not a consent answer"):
        consent_answer("maybe")


@pytest.mark.parametrize(
    "heading", ["Email", "EMAIL ADDRESS", " e-mail ", "Email_Address", "Client Email"]
)
def test_email_headings_are_recognised_whatever_their_case_and_spacing(heading):
    plan = plan_columns([heading, "Notes"], ColumnMapping(), "x.csv")
    assert plan.indexes["email"] == (0,)
    assert plan.ignored == ("Notes",)


def test_usual_booking_system_headings_map_to_fields_and_attributes():
    headings = ["First Name", "Last Name", "Email", "Occupation", "Tags", "Marketing Consent",
                "Date of Birth", "Last Visit", "Surgery Date", "Sport"]  # fmt: skip
    plan = plan_columns(headings, ColumnMapping(), "x.csv")
    assert set(plan.indexes) == {
        "first_name", "last_name", "email", "attributes.occupation", "tags", "consent",
        "attributes.date_of_birth", "attributes.last_visit", "attributes.surgery_date",
        "attributes.sport",
    }  # fmt: skip
    assert plan_columns(["Email Opt In", "email"], ColumnMapping(), "x").indexes["consent"] == (0,)


def test_a_mapping_overrides_and_extends_recognition():
    mapping = ColumnMapping(columns={heading_key("Client E-mail"): "email",
                                     heading_key("Occupation"): "ignore",
                                     heading_key("Injury"): "attributes.injury"})  # fmt: skip
    plan = plan_columns(["Client E-mail", "Occupation", "Injury"], mapping, "x.csv")
    assert plan.indexes == {"email": (0,), "attributes.injury": (2,)}
    assert plan.ignored == ("Occupation",)


def test_a_file_without_an_email_column_cannot_be_imported():
    with pytest.raises(CsvError, match=r"x.csv:1: no email column among the headings \('Name'"):
        plan_columns(["Name", "Phone"], ColumnMapping(), "x.csv")


@pytest.mark.parametrize(
    ("line", "delimiter"),
    [("Email,First Name", ","), ("Email;First Name;Tags", ";"), ("Email\tName", "\t"),
     ('"Name, full";Email', ";"), ("Email", ",")],
)  # fmt: skip
def test_delimiter_is_sniffed_from_the_header(line, delimiter):
    assert sniff_delimiter(line) == delimiter


def _row(**values) -> ParsedRow:
    defaults = dict(row=2, email="jane@example.org", first_name="", last_name="",
                    tags=frozenset(), attributes={}, consent=None, consent_at=None,
                    consent_wording=None)  # fmt: skip
    return ParsedRow(**{**defaults, **values})


def test_merge_newest_non_empty_value_wins_and_tags_unite():
    first = merge(None, _row(first_name="Jane", last_name="Doe", tags=frozenset({"runner"}),
                             attributes={"sport": "Running", "occupation": "Nurse"}),
                  "import:a.csv", NOW)  # fmt: skip
    newer = _row(first_name="Janet", tags=frozenset({"vip"}), attributes={"occupation": "Teacher"})
    second = merge(first, newer, "import:b.csv", NOW)
    assert second["first_name"] == "Janet" and second["last_name"] == "Doe"
    assert second["tags"] == ",runner,vip,"
    assert second["attributes"] == {"sport": "Running", "occupation": "Teacher"}
    assert second["consent_status"] == "none"


def test_merge_records_consent_with_its_source_time_and_wording():
    stamped = datetime(2025, 1, 5, tzinfo=UTC)
    state = merge(None, _row(consent="subscribed", consent_at=stamped, consent_wording="Form A"),
                  "import:a.csv", NOW)  # fmt: skip
    consent = [
        state[k] for k in ("consent_status", "consent_source", "consent_at", "consent_wording")
    ]
    assert consent == ["subscribed", "import:a.csv", stamped, "Form A"]
    again = merge(state, _row(consent="subscribed", consent_wording="Form B"), "import:b.csv", NOW)
    assert again == state  # already subscribed: the original record of consent stays
    withdrawn = merge(state, _row(consent="unsubscribed"), "import:c.csv", NOW)
    assert withdrawn["consent_status"] == "unsubscribed" and withdrawn["consent_at"] == NOW


def test_an_import_never_resubscribes_and_never_forgets_consent():
    unsubscribed = merge(None, _row(consent="unsubscribed"), "unsubscribe-link", NOW)
    assert merge(unsubscribed, _row(consent="subscribed"), "import:x.csv", NOW) == unsubscribed
    subscribed = merge(None, _row(consent="subscribed"), "import:x.csv", NOW)
    assert merge(subscribed, _row(consent="none"), "import:y.csv", NOW) == subscribed
    assert merge(subscribed, _row(consent=None), "import:y.csv", NOW) == subscribed


@pytest.mark.parametrize(
    "address",
    ["Jane.Doe@Example.ORG", "a..b@x.org", ".a@x.org", "a.@x.org", "a@x", "a@-x.org",
     "Postmaster@X.org", "zoë@example.org", '"a b"@x.org', "x" * 65 + "@x.org",
     "a@" + "b" * 250 + ".org", "o'neil+tag@Sub.Example.CO.UK", "a@münchen.de", "a@localhost",
     "a!#$%&'*+/=?^_`{|}~-@x.org", "a@x_y.org", "a@@b.org", "a@b.c"],
)  # fmt: skip
def test_the_fast_path_agrees_with_email_validator(address):
    from email_validator import EmailNotValidError, validate_email

    try:
        expected = validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError:
        expected = None
    try:
        actual = normalise_email(address)
    except InvalidValue:
        actual = None
    assert actual == expected
