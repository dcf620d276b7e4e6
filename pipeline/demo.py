"""Fictional clients for trying clinicmail out: Faker names at reserved example domains,
seeded so the same seed gives the same people, written in chunks with set-based inserts."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from faker import Faker
from sqlalchemy import Engine

from pipeline.identity import email_hash, email_key, tags_to_column
from pipeline.store import utcnow
from pipeline.store.contacts import contact_count
from pipeline.store.contacts_bulk import insert_contacts, suppress_many

CHUNK = 5000
# Reserved for documentation (RFC 2606): mail to them can never reach a real person.
DOMAINS = ("example.com", "example.org", "example.net")
SHARE_PER_SEGMENT = 0.25
WITHOUT_CONSENT = 0.05
UNSUBSCRIBED = 0.02
BOUNCED = 0.01

SPORTS = ("Running", "Cycling", "Triathlon", "Football", "Rugby", "Swimming", "Climbing",
          "Tennis", "Rowing", "CrossFit")  # fmt: skip
ATHLETE_TAGS = ("runner", "cyclist", "triathlete", "swimmer", "footballer", "climber")
DESK_JOBS = ("Software Developer", "Accountant", "Office Manager", "Data Analyst",
             "Graphic Designer", "Solicitor", "Receptionist", "Administrator",
             "Project Manager", "Financial Analyst", "Web Designer", "Call Centre Adviser",
             "Civil Engineer", "Editor")  # fmt: skip
OTHER_JOBS = ("Nurse", "Electrician", "Teacher", "Chef", "Plumber", "Shop Assistant",
              "Carpenter", "Paramedic", "Gardener", "Hairdresser", "Retired", "Student",
              "Postal Worker", "Care Worker", "Builder")  # fmt: skip
PROCEDURES = ("Knee arthroscopy", "ACL reconstruction", "Hip replacement", "Knee replacement",
              "Shoulder decompression", "Spinal fusion", "Carpal tunnel release",
              "Achilles tendon repair")  # fmt: skip
CONSENT_WORDING = "Booking form: 'Send me the clinic's newsletter, tips and offers by email'"


@dataclass(frozen=True)
class SeedReport:
    created: int = 0
    unsubscribed: int = 0
    bounced: int = 0
    without_consent: int = 0
    skipped: bool = False
    existing: int = 0


def _ascii(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower()) or "client"


class _People:
    """Draws fictional people; name pools come from Faker once, choices from one Random."""

    def __init__(self, seed: int, today: date) -> None:
        self.random = random.Random(seed)
        faker = Faker("en_GB")
        faker.seed_instance(seed)
        self.first_names = sorted({faker.first_name() for _ in range(600)})
        self.last_names = sorted({faker.last_name() for _ in range(900)})
        self.today = today

    def _days_ago(self, low: int, high: int) -> str:
        return (self.today - timedelta(days=self.random.randint(low, high))).isoformat()

    def person(self, number: int, now: datetime) -> dict:
        pick, chance = self.random.choice, self.random.random
        first, last = pick(self.first_names), pick(self.last_names)
        email = f"{_ascii(first)}.{_ascii(last)}.{number}@{pick(DOMAINS)}"
        tags: set[str] = set()
        attributes = {"last_visit": self._days_ago(3, 700)}
        athlete, desk, post_op = (chance() < SHARE_PER_SEGMENT for _ in range(3))
        if athlete:
            attributes["sport"] = pick(SPORTS)
            attributes["activity_level"] = pick(("high", "competitive", "very high"))
            if chance() < 0.5:
                tags.add(pick(ATHLETE_TAGS))
        else:
            attributes["activity_level"] = pick(("low", "moderate", "moderate"))
        attributes["occupation"] = pick(DESK_JOBS if desk else OTHER_JOBS)
        if post_op:
            attributes["procedure"] = pick(PROCEDURES)
            attributes["surgery_date"] = self._days_ago(7, 330)
        elif chance() < 0.1:
            attributes["procedure"] = pick(PROCEDURES)
            attributes["surgery_date"] = self._days_ago(430, 2500)
        if chance() < 0.2:
            tags.add(pick(("newsletter-2024", "gift-voucher", "referral", "student-discount")))
        draw = chance()
        status = "none" if draw < WITHOUT_CONSENT else "subscribed"
        if WITHOUT_CONSENT <= draw < WITHOUT_CONSENT + UNSUBSCRIBED:
            status = "unsubscribed"
        consent_at = now - timedelta(days=self.random.randint(1, 900))
        return {
            "email": email,
            "email_key": email_key(email),
            "email_hash": email_hash(email),
            "first_name": first,
            "last_name": last,
            "tags": tags_to_column(tags),
            "attributes": attributes,
            "consent_status": status,
            "consent_source": None if status == "none" else "demo seed",
            "consent_at": None if status == "none" else consent_at,
            "consent_wording": CONSENT_WORDING if status == "subscribed" else None,
        }


def seed_demo_contacts(
    engine: Engine,
    count: int,
    *,
    seed: int = 1,
    if_empty: bool = False,
    now: datetime | None = None,
) -> SeedReport:
    """Add `count` fictional clients in one transaction. With `if_empty`, do nothing when any
    contact exists. Numbers in the addresses continue after the contacts already held, so a
    second seeding adds new people rather than colliding."""
    moment = now or utcnow()
    people = _People(seed, moment.date())
    unsubscribed = bounced = without_consent = 0
    with engine.begin() as conn:
        existing = contact_count(conn)
        if if_empty and existing:
            return SeedReport(skipped=True, existing=existing)
        for start in range(0, count, CHUNK):
            rows = [
                people.person(existing + number + 1, moment)
                for number in range(start, min(start + CHUNK, count))
            ]
            suppressions = []
            for row in rows:
                if row["consent_status"] == "unsubscribed":
                    unsubscribed += 1
                    suppressions.append((row["email_hash"], "unsubscribe", "demo seed"))
                elif row["consent_status"] == "none":
                    without_consent += 1
                elif people.random.random() < BOUNCED:
                    bounced += 1
                    suppressions.append((row["email_hash"], "bounce", "demo seed"))
            insert_contacts(conn, rows, moment)
            suppress_many(conn, suppressions, moment)
    return SeedReport(
        created=count,
        unsubscribed=unsubscribed,
        bounced=bounced,
        without_consent=without_consent,
        existing=existing,
    )
