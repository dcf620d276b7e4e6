"""What the local SendGrid-compatible server checks in a /v3/mail/send body: SendGrid's published
request schema, and the rules SendGrid applies beyond it, answered in SendGrid's error form."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

import jsonschema_rs

from pipeline.contacts.normalise import is_valid_address

# Enough errors to act on, without a huge answer for a body with thousands of bad fields.
MAX_ERRORS = 20


@cache
def mail_send_validator() -> Any:
    """The /v3/mail/send request schema, with top-level custom_args typed as the object SendGrid
    and its libraries actually send (the published schema says string). jsonschema-rs: a
    1,000-recipient body validates in milliseconds, where pure-Python validation takes tenths of
    a second and would make this server the bottleneck."""
    text = resources.files("pipeline.devserver").joinpath("mail_send.schema.json").read_text()
    schema = json.loads(text)
    schema["properties"]["custom_args"] = {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
    return jsonschema_rs.validator_for(schema, validate_formats=True)


def validation_errors(body: Any) -> list[dict[str, Any]]:
    """SendGrid-style error objects for a request body; empty when it is acceptable."""
    errors = [
        {
            "field": ".".join(str(part) for part in error.instance_path) or None,
            "message": error.message,
            "help": None,
        }
        for error in mail_send_validator().iter_errors(body)
    ]
    if errors or not isinstance(body, dict):
        return errors[:MAX_ERRORS]
    if not body.get("content") and not body.get("template_id"):
        errors.append({"field": "content", "message": "content or template_id is required"})
    personalizations = body.get("personalizations") or []
    if not personalizations:
        errors.append({"field": "personalizations", "message": "at least one is required"})
    for index, personalization in enumerate(personalizations):
        if not personalization.get("to"):
            field = f"personalizations.{index}.to"
            errors.append({"field": field, "message": "at least one recipient is required"})
        for position, recipient in enumerate(personalization.get("to") or []):
            # SendGrid's own check is stricter than the schema's "format": "email".
            if not is_valid_address(recipient.get("email", "")):
                field = f"personalizations.{index}.to.{position}.email"
                errors.append({"field": field, "message": "Does not contain a valid address."})
        if not (personalization.get("subject") or body.get("subject") or body.get("template_id")):
            field = f"personalizations.{index}.subject"
            errors.append({"field": field, "message": "a subject is required"})
    return errors[:MAX_ERRORS]
