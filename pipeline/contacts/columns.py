"""Which column of a booking-system export holds what: the usual headings recognised whatever
their case and spacing, and a mapping file (YAML) for anything else."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from pipeline.contacts.normalise import InvalidValue, attribute_name
from pipeline.errors import CsvError
from pipeline.segments.lined import LinedDict
from pipeline.segments.spec import read_yaml
from pipeline.shortlist import summarise

# Targets a column can have besides an attribute ("attributes.<name>").
FIELDS = (
    "email",
    "first_name",
    "last_name",
    "full_name",
    "tags",
    "consent",
    "consent_date",
    "consent_wording",
    "ignore",
)

# Headings as booking systems write them, reduced to lower-case letters and digits.
_ALIASES: dict[str, tuple[str, ...]] = {
    "email": ("email", "emailaddress", "mail", "emailaddr", "clientemail", "customeremail",
              "patientemail", "primaryemail", "contactemail"),
    "first_name": ("firstname", "first", "givenname", "forename", "clientfirstname",
                   "patientfirstname", "customerfirstname"),
    "last_name": ("lastname", "last", "surname", "familyname", "clientlastname",
                  "patientlastname", "customerlastname"),
    "full_name": ("name", "fullname", "clientname", "patientname", "customername",
                  "contactname"),
    "tags": ("tags", "tag", "labels", "groups", "clienttags", "categories"),
    "consent": ("marketingconsent", "emailoptin", "optin", "emailmarketing", "acceptsmarketing",
                "acceptsemailmarketing", "marketingoptin", "marketingemails", "newsletter",
                "subscribed", "emailmarketingconsent", "consenttomarketing", "emailconsent",
                "marketingpermission", "receivemarketing"),
    "consent_date": ("marketingconsentdate", "consentdate", "optindate", "consentedat",
                     "emailoptindate", "subscribedat", "subscribeddate", "consenttimestamp"),
    "consent_wording": ("consentwording", "consenttext", "consentform", "consentstatement",
                        "optinwording", "optinform", "consentsource"),
    "attributes.occupation": ("occupation", "jobtitle", "job", "profession"),
    "attributes.sport": ("sport", "sports", "mainsport", "activity", "activities"),
    "attributes.activity_level": ("activitylevel", "fitnesslevel", "exerciselevel"),
    "attributes.procedure": ("procedure", "surgery", "operation", "surgerytype",
                             "proceduretype"),
    "attributes.surgery_date": ("surgerydate", "dateofsurgery", "operationdate",
                                "dateofoperation"),
    "attributes.procedure_date": ("proceduredate", "dateofprocedure"),
    "attributes.last_visit": ("lastvisit", "lastvisitdate", "lastappointment",
                              "lastappointmentdate", "lastbooking", "lastseen"),
    "attributes.date_of_birth": ("dateofbirth", "dob", "birthdate", "birthday"),
}  # fmt: skip
KNOWN_HEADINGS = {alias: target for target, aliases in _ALIASES.items() for alias in aliases}

# Attributes held as dates (ISO strings, so segment rules compare them in SQL).
DATE_ATTRIBUTES = frozenset({"last_visit", "date_of_birth"})


def heading_key(heading: str) -> str:
    """A heading reduced for comparison: "E-mail Address " and "email_address" are the same."""
    return re.sub(r"[^a-z0-9]", "", heading.lower())


def is_date_attribute(name: str) -> bool:
    return name in DATE_ATTRIBUTES or name.endswith("_date")


@dataclass(frozen=True)
class ColumnMapping:
    """What a mapping file says: heading key -> target, and how to read dates."""

    columns: dict[str, str] = field(default_factory=dict)
    day_first: bool = True
    source: str | None = None


def _target(raw: str) -> str:
    value = raw.strip()
    if value in FIELDS:
        return value
    try:
        return "attributes." + attribute_name(value.removeprefix("attributes."))
    except InvalidValue as error:
        raise InvalidValue(f"{error} (fields: {', '.join(FIELDS)}; or an attribute name)") from None


def load_mapping(path: Path, target_of: Callable[[str], str] = _target) -> ColumnMapping:
    """Read a mapping file:

    columns:
      "Client E-mail": email
      "Job Role": occupation          # an attribute; or attributes.occupation
      "Clinical Notes": ignore
    dates: day_first                  # or month_first (US exports)
    """
    shown = str(path)
    document = read_yaml(path, shown)
    if not isinstance(document, LinedDict):
        raise CsvError("a mapping file is a mapping with 'columns:' (and optionally 'dates:')",
                       path=shown, line=1)  # fmt: skip
    for key in document:
        if key not in ("columns", "dates"):
            raise CsvError(f"unknown key {key!r} (use columns, dates)", path=shown,
                           line=document.lines[key])  # fmt: skip
    columns = document.get("columns", {})
    if not isinstance(columns, LinedDict):
        raise CsvError("'columns' maps each heading to a field or attribute", path=shown,
                       line=document.lines.get("columns", 1))  # fmt: skip
    targets: dict[str, str] = {}
    for heading, target in columns.items():
        line = columns.lines[heading]
        if not isinstance(heading, str) or not isinstance(target, str):
            raise CsvError("each entry is 'Heading: target'", path=shown, line=line)
        try:
            targets[heading_key(heading)] = target_of(target)
        except InvalidValue as error:
            raise CsvError(
                f"heading {heading!r}: {error}",
                path=shown,
                line=line,
            ) from None
    dates = document.get("dates", "day_first")
    if dates not in ("day_first", "month_first"):
        raise CsvError("'dates' is day_first or month_first", path=shown,
                       line=document.lines.get("dates"))  # fmt: skip
    return ColumnMapping(columns=targets, day_first=dates == "day_first", source=shown)


@dataclass(frozen=True)
class ColumnPlan:
    """For one file: the column indexes of each target (the first non-empty one wins), the
    heading shown for each target in rejections, and the headings left out."""

    indexes: dict[str, tuple[int, ...]]
    headings: dict[str, str]
    ignored: tuple[str, ...]


def plan_columns(
    headings: list[str],
    mapping: ColumnMapping,
    shown: str,
    *,
    known: Mapping[str, str] = KNOWN_HEADINGS,
    required: Mapping[str, str] = MappingProxyType({"email": "Email"}),
) -> ColumnPlan:
    """Which column holds each target. `known` maps heading keys to targets; each target in
    `required` (with the heading to suggest) must have a column, else CsvError."""
    indexes: dict[str, list[int]] = {}
    names: dict[str, str] = {}
    ignored = []
    for index, heading in enumerate(headings):
        key = heading_key(heading)
        target = mapping.columns.get(key) or known.get(key)
        if target is None or target == "ignore":
            if heading.strip():
                ignored.append(heading.strip())
            continue
        indexes.setdefault(target, []).append(index)
        names.setdefault(target, heading.strip())
    for target, suggested in required.items():
        if target not in indexes:
            shown_headings = summarise([h.strip() for h in headings if h.strip()]) or "none"
            raise CsvError(
                f"no {target.replace('_', ' ')} column among the headings ({shown_headings}); "
                f"name one {suggested!r}",
                path=shown,
                line=1,
                command_hint="a mapping file (--mapping) can name another heading for it",
            )
    return ColumnPlan(
        indexes={target: tuple(found) for target, found in indexes.items()},
        headings=names,
        ignored=tuple(ignored),
    )
