"""The SendGrid backend against the local SendGrid-compatible server, over real HTTP with the
official `sendgrid` library: delivery, injected failures, request validity and escaping."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from sendgrid.helpers.mail import CustomArg, Header, Mail, Personalization, Substitution, To

import pipeline.delivery.sendgrid as sendgrid_backend
from pipeline.config import Settings
from pipeline.delivery.sendgrid import (
    SendGridBackend,
    custom_args,
    envelope_mail,
    request_body,
    substitutions_for,
    text_with_own_placeholders,
)
from pipeline.devserver.server import LocalSendGridServer
from pipeline.errors import DeliveryError
from pipeline.models import Recipient, RenderedVariant, group_results
from pipeline.render.message import list_unsubscribe_headers
from tests.delivery_support import delivery_settings, recipients, rendered_variant
from tests.ports import free_port

API_KEY = "SG.test-key"


def library_mail(
    settings: Settings, rendered: RenderedVariant, people: Sequence[Recipient]
) -> Mail:
    """The request as the official library's helpers build it (a Personalization object per
    recipient): the reference request_body's plain dicts must equal."""
    text, text_tokens = text_with_own_placeholders(rendered, people)
    mail = envelope_mail(settings, rendered, text)
    for position, recipient in enumerate(people):
        personalization = Personalization()
        # Set, not parsed: the library's display-name parsing is the costliest step of a request,
        # and send_batch lets only plain addresses through.
        to = To()
        to.email = recipient.email
        personalization.add_to(to)
        for name, value in list_unsubscribe_headers(settings, recipient.values).items():
            personalization.add_header(Header(name, value))
        substitutions = substitutions_for(rendered.html_tokens, text_tokens, recipient)
        for placeholder, value in substitutions.items():
            personalization.add_substitution(Substitution(placeholder, value))
        for key, value in custom_args(rendered, recipient).items():
            personalization.add_custom_arg(CustomArg(key, value))
        # The library inserts at index 0 by default; the order must match `people`, as
        # SendGrid's errors name personalizations by index.
        mail.add_personalization(personalization, index=position)
    return mail


@pytest.fixture
def settings(workspace: Path) -> Settings:
    return delivery_settings(workspace, timeout_seconds=0.5)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LocalSendGridServer]:
    with LocalSendGridServer(store_dir=tmp_path / "local-sendgrid", api_key=API_KEY) as server:
        yield server


@pytest.fixture
def backend(settings: Settings, server: LocalSendGridServer) -> Iterator[SendGridBackend]:
    backend = SendGridBackend(settings, api_host=server.url, api_key=API_KEY)
    yield backend
    backend.close()


def published_schema_validator() -> Draft202012Validator:
    text = resources.files("pipeline.devserver").joinpath("mail_send.schema.json").read_text()
    return Draft202012Validator(json.loads(text), format_checker=FormatChecker())


def test_a_batch_is_delivered_in_one_request(
    settings: Settings, server: LocalSendGridServer, backend: SendGridBackend
) -> None:
    people = recipients(settings, 3)
    results = backend.send_batch(rendered_variant(), people)

    assert [result.outcome for result in results] == ["sent"] * 3
    assert [result.send_id for result in results] == [1, 2, 3]
    [(message_id, body)] = server.accepted
    assert {result.provider_message_id for result in results} == {message_id}
    assert [p["to"] for p in body["personalizations"]] == [[{"email": r.email}] for r in people]
    first = body["personalizations"][0]
    assert first["custom_args"] == {
        "send_id": "1",
        "campaign": "legs-for-back-pain",
        "variant": "s7q2",
    }
    assert first["headers"]["List-Unsubscribe"].startswith(
        f"<{people[0].values['unsubscribe_url']}>"
    )
    assert first["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # Categories carry the campaign and the opaque segment code, never the segment's name.
    assert sorted(body["categories"]) == ["legs-for-back-pain", "s7q2"]
    assert "post_op" not in json.dumps(body)
    assert [content["type"] for content in body["content"]] == ["text/plain", "text/html"]
    assert body["tracking_settings"] == {
        "click_tracking": {"enable": True, "enable_text": False},
        "open_tracking": {"enable": True},
        "subscription_tracking": {"enable": False},
    }


def test_request_body_validates_against_the_published_schema(
    settings: Settings, server: LocalSendGridServer, backend: SendGridBackend
) -> None:
    body = request_body(settings, rendered_variant(), recipients(settings, 5))
    assert list(published_schema_validator().iter_errors(body)) == []
    backend.send_batch(rendered_variant(), recipients(settings, 2))
    [(_, received)] = server.accepted
    assert list(published_schema_validator().iter_errors(received)) == []


@pytest.mark.parametrize("first_name", ["Sam", "<b>Zoë</b> & co", ""])
def test_plain_dict_personalizations_equal_the_library_helpers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, first_name: str
) -> None:
    """request_body adds personalizations as plain dicts: they must be exactly what the library's
    Personalization.get() makes (library_mail), envelope and all."""
    monkeypatch.setattr(sendgrid_backend.secrets, "token_hex", lambda size: "f" * (2 * size))
    variant = rendered_variant()
    people = recipients(settings, 3, first_name=first_name)
    reference = library_mail(settings, variant, people).get()
    body = request_body(settings, variant, people)
    assert body == reference
    assert [p["to"] for p in body["personalizations"]] == [[{"email": r.email}] for r in people]
    assert list(published_schema_validator().iter_errors(body)) == []


def test_a_batch_mixing_names_escaping_changes_and_names_it_does_not_equals_the_helpers(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """request_body escapes only the tokens some value of which escaping changes; library_mail
    escapes every value. The two must still agree."""
    monkeypatch.setattr(sendgrid_backend.secrets, "token_hex", lambda size: "f" * (2 * size))
    variant = rendered_variant()
    people = recipients(settings, 2, first_name="O'Brien") + recipients(settings, 2, start=3)
    body = request_body(settings, variant, people)
    assert body == library_mail(settings, variant, people).get()
    html_placeholder = variant.html_tokens["first_name"]
    names = [p["substitutions"][html_placeholder] for p in body["personalizations"]]
    assert names == ["O&#x27;Brien", "O&#x27;Brien", "Sam", "Sam"]


def test_grouped_results_are_send_batchs_results_grouped(
    server: LocalSendGridServer, backend: SendGridBackend, settings: Settings
) -> None:
    people = recipients(settings, 3)
    # An address without a dot in its domain is refused by the one address check, as SendGrid
    # would refuse it; a display name too. Each fails alone, before the request.
    undotted = Recipient(send_id=2, email="someone@localhost", values=people[1].values)
    unparsable = Recipient(send_id=9, email="Sam Example", values=people[2].values)
    batch = [people[0], undotted, people[2], unparsable]
    # The server is unavailable for both requests: the sendable two are to be tried again.
    server.fail_next(2, status=503)
    grouped = backend.send_batch_grouped(rendered_variant(), batch)
    assert grouped == group_results(backend.send_batch(rendered_variant(), batch))
    assert sorted(send_id for send_ids in grouped.values() for send_id in send_ids) == [1, 2, 3, 9]
    by_outcome: dict[str, list[int]] = {}
    for (outcome, *_), ids in grouped.items():
        by_outcome.setdefault(outcome, []).extend(ids)
    assert {outcome: sorted(ids) for outcome, ids in by_outcome.items()} == {
        "retry": [1, 3],
        "failed": [2, 9],
    }


def test_substitutions_escape_html_but_not_text(settings: Settings) -> None:
    variant = rendered_variant()
    [person] = recipients(settings, 1, first_name="<script>alert(1)</script>")
    body = request_body(settings, variant, [person])
    substitutions = body["personalizations"][0]["substitutions"]
    html_placeholder = variant.html_tokens["first_name"]
    assert substitutions[html_placeholder] == "&lt;script&gt;alert(1)&lt;/script&gt;"
    text = next(c["value"] for c in body["content"] if c["type"] == "text/plain")
    [text_placeholder] = [key for key in substitutions if key in text and "first_name" in key]
    assert text_placeholder != html_placeholder
    assert substitutions[text_placeholder] == "<script>alert(1)</script>"


def test_recipients_see_their_own_escaped_values(
    settings: Settings, server: LocalSendGridServer, backend: SendGridBackend
) -> None:
    people = recipients(settings, 2, first_name="<script>alert(1)</script>")
    [result, _] = backend.send_batch(rendered_variant(), people)
    store = server._store
    assert store is not None
    message = store.get_message(f"{result.provider_message_id}-1")
    assert message.to == people[1].email
    assert "Hello &lt;script&gt;alert(1)&lt;/script&gt;," in message.html
    assert "<script>" not in message.html
    assert "Hello <script>alert(1)</script>," in message.text
    assert people[1].values["unsubscribe_url"] in message.text
    assert "__cm" not in message.html + message.text


def test_429_is_a_retry_honouring_retry_after(
    server: LocalSendGridServer, backend: SendGridBackend, settings: Settings
) -> None:
    server.fail_next(status=429, retry_after=7)
    results = backend.send_batch(rendered_variant(), recipients(settings, 2))
    assert {(result.outcome, result.retry_after) for result in results} == {("retry", 7.0)}
    assert server.accepted == []
    assert [r.outcome for r in backend.send_batch(rendered_variant(), recipients(settings, 2))] == [
        "sent",
        "sent",
    ]


def test_500_is_a_retry(
    server: LocalSendGridServer, backend: SendGridBackend, settings: Settings
) -> None:
    server.fail_next(status=500, message="internal error")
    [result] = backend.send_batch(rendered_variant(), recipients(settings, 1))
    assert result.outcome == "retry"
    assert result.retry_after is None
    assert "500" in (result.reason or "") and "internal error" in (result.reason or "")


@pytest.mark.parametrize("accepted", [True, False])
def test_a_lost_response_is_unknown(
    server: LocalSendGridServer, backend: SendGridBackend, settings: Settings, accepted: bool
) -> None:
    server.time_out_next(accepted=accepted)
    results = backend.send_batch(rendered_variant(), recipients(settings, 2))
    assert {result.outcome for result in results} == {"unknown"}
    # The client cannot tell these apart; the server shows which case it modelled.
    assert server.stats()["accepted_requests"] == (1 if accepted else 0)


def test_400_fails_with_sendgrids_error_text(
    server: LocalSendGridServer, backend: SendGridBackend, settings: Settings
) -> None:
    server.fail_next(status=400, message="The from address does not match a verified Sender")
    results = backend.send_batch(rendered_variant(), recipients(settings, 2))
    assert {result.outcome for result in results} == {"failed"}
    assert all("does not match a verified Sender" in (result.reason or "") for result in results)


def test_a_rejected_address_fails_alone_and_the_rest_are_resent(
    server: LocalSendGridServer, backend: SendGridBackend, settings: Settings
) -> None:
    people = recipients(settings, 3)
    # SendGrid refuses an address that passed the check here: its answer names the field.
    field = "personalizations.1.to.0.email"
    server.fail_next(status=400, message="Does not contain a valid address.", field=field)
    results = backend.send_batch(rendered_variant(), people)
    assert [result.outcome for result in results] == ["retry", "failed", "retry"]
    assert "personalizations.1.to.0.email" in (results[1].reason or "")
    assert results[0].retry_after == 0


def test_a_refused_api_key_stops_sending(server: LocalSendGridServer, settings: Settings) -> None:
    backend = SendGridBackend(settings, api_host=server.url, api_key="SG.wrong")
    with pytest.raises(DeliveryError, match=r"refused the request \(401\).*authorization grant"):
        backend.send_batch(rendered_variant(), recipients(settings, 1))
    assert server.accepted == []


def test_an_unreachable_host_is_a_retry(settings: Settings) -> None:
    backend = SendGridBackend(settings, api_host=f"http://127.0.0.1:{free_port()}", api_key=API_KEY)
    [result] = backend.send_batch(rendered_variant(), recipients(settings, 1))
    assert result.outcome == "retry"
    assert "could not reach" in (result.reason or "")


def test_large_batches_are_split_at_1000_personalizations(
    server: LocalSendGridServer, backend: SendGridBackend, settings: Settings
) -> None:
    results = backend.send_batch(rendered_variant(), recipients(settings, 1001))
    assert len(results) == 1001 and {r.outcome for r in results} == {"sent"}
    assert [len(body["personalizations"]) for _, body in server.accepted] == [1000, 1]


def test_the_sendgrid_backend_needs_an_api_key(settings: Settings) -> None:
    with pytest.raises(DeliveryError, match="SENDGRID_API_KEY"):
        SendGridBackend(settings)


def test_an_address_the_library_cannot_take_fails_alone(
    server: LocalSendGridServer, backend: SendGridBackend, settings: Settings
) -> None:
    [person] = recipients(settings, 1)
    broken = Recipient(send_id=99, email="Sam Example", values=person.values)
    results = backend.send_batch(rendered_variant(), [broken, person])
    assert [(r.send_id, r.outcome) for r in results] == [(99, "failed"), (1, "sent")]
    assert "not a single plain email address" in (results[0].reason or "")
