"""Rendering: a variant compiled once (Jinja2, then mrml), filled per recipient, and the
complete MIME message. The public surface is re-exported here, each name imported when first
used: a sending process needs the per-recipient half (pipeline.render.message) without the
compiler, the templates and the article parsers behind it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.lazy import lazy_exports

if TYPE_CHECKING:
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

_MODULE_OF = {
    "render_email": "compile",
    "render_mjml": "compile",
    "render_variant": "compile",
    "template_names": "compile",
    "with_utm": "compile",
    "RecipientValues": "message",
    "list_unsubscribe_headers": "message",
    "mime_bytes": "message",
    "mime_message": "message",
    "personalise": "message",
    "recipient_values": "message",
}

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


__getattr__ = lazy_exports(__name__, _MODULE_OF)
