"""Which column of an appointments export holds what: headings as booking systems write them,
a mapping file for anything else, and the cell readers (times, money, status)."""

from __future__ import annotations

import re
from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

from pipeline.contacts.columns import ColumnMapping, load_mapping
from pipeline.contacts.normalise import InvalidValue, parse_date

FIELDS = (
    "appointment_id", "email", "starts_at", "service", "value", "booked_at", "status", "ignore",
)  # fmt: skip

_ALIASES: dict[str, tuple[str, ...]] = {
    "appointment_id": ("appointmentid", "bookingid", "bookingreference", "bookingref",
                       "appointmentref", "appointmentreference", "reference", "ref", "id"),
    "email": ("email", "emailaddress", "clientemail", "customeremail", "patientemail",
              "contactemail", "mail"),
    "starts_at": ("start", "starttime", "startsat", "startdate", "appointmentstart",
                  "appointmentdate", "appointmenttime", "appointmentdatetime", "date", "datetime",
                  "when", "bookingdate", "scheduledfor"),
    "service": ("service", "servicename", "treatment", "appointmenttype", "type",
                "treatmenttype", "servicetype", "product"),
    "value": ("price", "value", "amount", "total", "fee", "cost", "servicevalue", "revenue",
              "totalprice", "charge"),
    "booked_at": ("bookedat", "bookedon", "createdat", "created", "createddate", "dateBooked",
                  "datebooked", "bookingcreated", "bookingmade", "madeat", "timebooked",
                  "bookingcreatedat"),
    "status": ("status", "appointmentstatus", "bookingstatus", "state", "outcome"),
}  # fmt: skip
KNOWN_HEADINGS = MappingProxyType(
    {alias.lower(): target for target, aliases in _ALIASES.items() for alias in aliases}
)
REQUIRED = MappingProxyType(
    {"email": "Email", "starts_at": "Start", "booked_at": "Booked At", "status": "Status"}
)

# Statuses as booking systems write them, lower-cased letters only.
_STATUS_WORDS = {
    "booked": "booked", "confirmed": "booked", "completed": "booked", "attended": "booked",
    "arrived": "booked", "checkedin": "booked", "checkedout": "booked", "paid": "booked",
    "pending": "booked", "scheduled": "booked", "active": "booked",
    "cancelled": "cancelled", "canceled": "cancelled", "latecancel": "cancelled",
    "latecancellation": "cancelled", "cancelledbyclient": "cancelled",
    "cancelledbyclinic": "cancelled", "rescheduled": "cancelled",
    "noshow": "no_show", "dna": "no_show", "didnotattend": "no_show", "missed": "no_show",
    "didnotarrive": "no_show",
}  # fmt: skip
_TIME = re.compile(r"(\d{1,2})[:.](\d{2})(?::(\d{2}))?\s*([ap]\.?m\.?)?$", re.IGNORECASE)
_MONEY = re.compile(r"^[^\d\-]*(-?[\d.,\s]+?)\s*[^\d]*$")


def _target(raw: str) -> str:
    value = raw.strip()
    if value not in FIELDS:
        raise InvalidValue(f"{value!r} is not a bookings field (use {', '.join(FIELDS)})")
    return value


def load_bookings_mapping(path: Path) -> ColumnMapping:
    """A mapping file as for contacts (columns: {Heading: field}, dates:), with the bookings
    fields as targets."""
    return load_mapping(path, _target)


def parse_status(raw: str) -> str:
    word = re.sub(r"[^a-z]", "", raw.lower())
    if word in _STATUS_WORDS:
        return _STATUS_WORDS[word]
    raise InvalidValue(f"{raw.strip()!r} is not a status (use booked, cancelled or no-show)")


def parse_local_datetime(raw: str, zone: ZoneInfo, *, day_first: bool) -> datetime:
    """A time cell as an aware datetime: ISO 8601 (with or without an offset), or a date as
    parse_date reads it followed by a time ("21/03/2025 14:30", "2:30 pm"). A time without an
    offset is the clinic's local time, as booking systems show it."""
    value = raw.strip()
    if not value:
        raise InvalidValue("no time given")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        parsed = _day_and_time(value, day_first=day_first)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def parse_money_cents(raw: str) -> int:
    """A price cell in cents: "45", "£45.00", "45,50 €", "1,250.00"; empty is 0."""
    value = raw.strip()
    if not value:
        return 0
    match = _MONEY.match(value)
    if not match:
        raise InvalidValue(f"{value!r} is not an amount (use 45 or 45.00)")
    number = match[1].replace(" ", "")
    if "," in number and "." not in number and re.search(r",\d{1,2}$", number):
        number = number.replace(",", ".")
    number = number.replace(",", "")
    try:
        amount = Decimal(number)
    except InvalidOperation:
        raise InvalidValue(f"{value!r} is not an amount (use 45 or 45.00)") from None
    if amount < 0:
        raise InvalidValue(f"{value!r} is negative")
    return int((amount * 100).to_integral_value())


def _day_and_time(value: str, *, day_first: bool) -> datetime:
    day_part, _, time_part = value.replace(",", " ").partition(" ")
    day = parse_date(day_part, day_first=day_first)
    if not time_part.strip():
        return datetime.combine(day, time(0))
    match = _TIME.match(time_part.strip())
    if not match:
        raise InvalidValue(f"{value!r}: {time_part.strip()!r} is not a time (use 14:30)")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    meridiem = (match[4] or "").lower().replace(".", "")
    if meridiem == "pm" and hour < 12:
        hour += 12
    elif meridiem == "am" and hour == 12:
        hour = 0
    try:
        return datetime.combine(day, time(hour, minute, second))
    except ValueError as error:
        raise InvalidValue(f"{value!r} is not a real time: {error}") from None
