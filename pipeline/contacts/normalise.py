"""How contact values are normalised: addresses, their hash, tags, dates and consent answers.

Pure functions shared by the CSV import, the store and the demo data, so every path agrees.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email

from pipeline.identity import normalise_tag
from pipeline.models import ConsentStatus

# RFC 5322 dot-atom in ASCII: a local part email-validator accepts as it is.
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
# Mailbox names email-validator lower-cases (RFC 2142): left to its full path.
_SPECIAL = frozenset({"postmaster", "abuse"})
_TAG_SEPARATORS = re.compile(r"[,;|]")
_ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# Answers booking systems put in a consent column, lower-cased. Anything else is reported.
CONSENT_ANSWERS: dict[str, ConsentStatus] = {
    **dict.fromkeys(
        ("yes", "y", "true", "t", "1", "subscribed", "opted in", "opt in", "opt-in", "opted-in",
         "consented", "granted", "agreed", "accepted", "on", "x"),
        "subscribed",
    ),
    **dict.fromkeys(
        ("no", "n", "false", "f", "0", "unsubscribed", "opted out", "opt out", "opt-out",
         "opted-out", "declined", "refused", "withdrawn", "off"),
        "unsubscribed",
    ),
    **dict.fromkeys(("none", "unknown", "not asked", "n/a", "na", "-"), "none"),
}  # fmt: skip


class InvalidValue(ValueError):
    """A single cell that cannot be used; its message is the reason shown for the row."""


def normalise_email(raw: str) -> str:
    """The address trimmed, checked for syntax by email-validator (no network) and with its
    domain lower-cased. Raises InvalidValue with email-validator's reason."""
    value = raw.strip()
    if not value:
        raise InvalidValue("no email address")
    local, at, domain = value.rpartition("@")
    # Fast path for the plain addresses that make up nearly every export: a dot-atom ASCII local
    # part needs no more checking than this pattern, and a domain is validated once per import
    # (an import holds thousands of addresses at a few dozen domains).
    if at and len(local) <= 64 and _DOT_ATOM.match(local) and local.lower() not in _SPECIAL:
        try:
            address = f"{local}@{_validated_domain(domain)}"
        except EmailNotValidError:
            pass
        else:
            if len(address) <= 254:
                return address
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidValue(f"{value!r} is not a valid email address: {error}") from None
    return result.normalized


def is_valid_address(value: str) -> bool:
    """Whether `value` is one email address with nothing around it (no display name, no
    surrounding spaces), by normalise_email's rules: the one address check every path shares
    (the import, test sends, the SendGrid backend and the local SendGrid-compatible server)."""
    if value != value.strip():
        return False
    try:
        normalise_email(value)
    except InvalidValue:
        return False
    return True


@lru_cache(maxsize=4096)
def _validated_domain(domain: str) -> str:
    """The domain as email-validator normalises it; raises EmailNotValidError when invalid."""
    return validate_email(f"a@{domain}", check_deliverability=False).domain


def split_tags(cell: str) -> frozenset[str]:
    """The tags in one cell; booking systems separate them with commas, semicolons or bars."""
    return frozenset(tag for tag in map(normalise_tag, _TAG_SEPARATORS.split(cell)) if tag)


def attribute_name(raw: str) -> str:
    """A heading or mapping target as an attribute name: snake_case ("Last Visit" is
    "last_visit")."""
    name = re.sub(r"[^a-z0-9]+", "_", raw.strip().lower()).strip("_")
    if not _ATTRIBUTE_NAME.match(name):
        raise InvalidValue(f"{raw!r} cannot be an attribute name (use letters, digits and _)")
    return name


def consent_answer(raw: str) -> ConsentStatus | None:
    """A consent cell as a status; None for an empty cell (nothing said)."""
    value = raw.strip().lower()
    if not value:
        return None
    if value in CONSENT_ANSWERS:
        return CONSENT_ANSWERS[value]
    raise InvalidValue(
        f"{raw.strip()!r} is not a consent answer (use yes/no, true/false, 1/0, "
        "subscribed/unsubscribed, or leave it empty)"
    )


_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$")
_SLASHED_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})(?:[T ,].*)?$")


def parse_date(raw: str, *, day_first: bool = True) -> date:
    """A date cell as a date: ISO (2025-03-21, with or without a time), or 21/03/2025 (day first,
    as UK booking systems write it; month first when the mapping says so). Two-digit years are
    20xx when that is not in the future, else 19xx."""
    value = raw.strip()
    try:
        iso = _ISO_DATE.match(value)
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
        slashed = _SLASHED_DATE.match(value)
        if slashed:
            first, second, year = int(slashed[1]), int(slashed[2]), int(slashed[3])
            if year < 100:
                year += 2000 if 2000 + year <= date.today().year else 1900
            day, month = (first, second) if day_first else (second, first)
            return date(year, month, day)
    except ValueError as error:
        raise InvalidValue(f"{value!r} is not a real date: {error}") from None
    raise InvalidValue(f"{value!r} is not a date (use 2025-03-21 or 21/03/2025)")


def parse_datetime(raw: str, *, day_first: bool = True) -> datetime:
    """A timestamp cell (ISO 8601, or a date alone) as an aware datetime; no zone means UTC."""
    value = raw.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        day = parse_date(value, day_first=day_first)
        parsed = datetime(day.year, day.month, day.day)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
