"""Contacts: normalising addresses and values (here), and importing booking-system exports
(pipeline.contacts.importer). Who is mailable is decided in SQL (pipeline.store.contacts)."""

from pipeline.contacts.normalise import (
    email_hash,
    email_key,
    normalise_email,
    normalise_tag,
    split_tags,
    tags_from_column,
    tags_to_column,
)

__all__ = [
    "email_hash",
    "email_key",
    "normalise_email",
    "normalise_tag",
    "split_tags",
    "tags_from_column",
    "tags_to_column",
]
