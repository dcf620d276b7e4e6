"""Rendering: a variant compiled once (Jinja2, then mrml), filled per recipient, and the
complete MIME message. The public surface is re-exported here."""

from pipeline.render.compile import (
    render_email,
    render_mjml,
    render_variant,
    template_names,
    with_utm,
)
from pipeline.render.message import (
    RecipientValues,
    list_unsubscribe_headers,
    mime_bytes,
    mime_message,
    personalise,
    recipient_values,
)

__all__ = [
    "RecipientValues",
    "list_unsubscribe_headers",
    "mime_bytes",
    "mime_message",
    "personalise",
    "recipient_values",
    "render_email",
    "render_mjml",
    "render_variant",
    "template_names",
    "with_utm",
]
