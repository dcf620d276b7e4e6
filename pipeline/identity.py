"""How a person and a tag are recognised on every path (the CSV import, the store, the demo
data, the public pages): an address's unique key and its hash, a tag's normal form and how a
set of tags is stored. Pure, and below the store, so the store and the import agree."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TAG_SPACES = re.compile(r"[\s_]+")


def email_hash(email: str) -> str:
    """sha256 of the lower-cased, trimmed address: how suppressions recognise a person even after
    their contact record is erased."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def is_email_hash(value: str) -> bool:
    return bool(_HEX64.match(value))


def email_key(email: str) -> str:
    """The unique key of a contact: its address lower-cased, so case never makes a second one."""
    return email.strip().lower()


def normalise_tag(raw: str) -> str:
    """A tag as rules compare it: lower-case, trimmed, inner spaces as hyphens ("Post Op" is
    "post-op")."""
    return _TAG_SPACES.sub("-", raw.strip().lower()).strip("-")


def tags_to_column(tags: Iterable[str]) -> str:
    """Tags as stored: ",a,b," so that one tag is a portable LIKE '%,a,%' in SQL."""
    return "," + "".join(f"{tag}," for tag in sorted(tags))


def tags_from_column(stored: str) -> frozenset[str]:
    return frozenset(tag for tag in stored.split(",") if tag)
