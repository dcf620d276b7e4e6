"""Contacts: normalising addresses and values (here), and importing booking-system exports
(pipeline.contacts.importer). Who is mailable is decided in SQL (pipeline.store.contacts)."""

from pipeline.contacts.normalise import (
    normalise_email,
    split_tags,
)

__all__ = [
    "normalise_email",
    "split_tags",
]
