"""Whole messages that are no campaign sends (the owner's report, with an inline chart) through
the SendGrid backend (via the local server) and the file backend; SMTP's is in
test_delivery_smtp.py."""

from __future__ import annotations

import base64
import json
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from pipeline.delivery.file import FileBackend
from pipeline.delivery.sendgrid import SendGridBackend
from pipeline.devserver.server import LocalSendGridServer
from pipeline.errors import DeliveryError
from tests.delivery_support import PNG, delivery_settings, report_email


def test_sendgrid_sends_the_chart_inline(workspace: Path) -> None:
    settings = delivery_settings(workspace)
    with LocalSendGridServer() as server:
        backend = SendGridBackend(settings, api_host=server.url, api_key="SG.any")
        message_id = backend.send_message(report_email())
        [(accepted_id, body)] = server.accepted
    assert message_id == accepted_id
    assert body["personalizations"] == [{"to": [{"email": "owner@example.com"}]}]
    assert body["from"] == {
        "email": "news@harbourside-clinic.example",
        "name": "Harbourside Clinic",
    }
    [attachment] = body["attachments"]
    assert attachment["content_id"] == "chart" and attachment["disposition"] == "inline"
    assert base64.b64decode(attachment["content"]) == PNG
    assert [content["type"] for content in body["content"]] == ["text/plain", "text/html"]
    schema = json.loads(
        resources.files("pipeline.devserver").joinpath("mail_send.schema.json").read_text()
    )
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    assert list(validator.iter_errors(body)) == []


def test_a_refused_message_is_a_delivery_error(workspace: Path) -> None:
    """An account-level refusal and a refused recipient alike."""
    settings = delivery_settings(workspace)
    with LocalSendGridServer() as server:
        server.fail_next(status=403, message="The from address does not match a verified Sender")
        backend = SendGridBackend(settings, api_host=server.url, api_key="SG.any")
        with pytest.raises(DeliveryError, match=r"\(403\).*verified Sender"):
            backend.send_message(report_email())
        server.fail_next(status=400, message="Does not contain a valid address.")
        with pytest.raises(DeliveryError, match=r"owner@example\.com.*valid address"):
            backend.send_message(report_email())


def test_file_writes_the_message_once(workspace: Path) -> None:
    backend = FileBackend(delivery_settings(workspace))
    name = backend.send_message(report_email())
    path = workspace / "var" / "outbox" / "messages" / name
    first = path.read_bytes()
    assert name == "report-2026-w47-harbourside-clinic.example.eml"
    assert b"Content-ID: <chart>" in first
    backend.send_message(report_email())
    assert path.read_bytes() == first
