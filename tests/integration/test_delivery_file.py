"""The file backend: one .eml per send id under var/outbox/, written atomically and only once."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from pipeline.delivery.backends import open_backend
from pipeline.delivery.file import FileBackend
from tests.delivery_support import delivery_settings, recipients, rendered_variant


def test_each_message_is_an_eml_file(workspace: Path) -> None:
    settings = delivery_settings(workspace, backend="file")
    backend = open_backend(settings)
    assert isinstance(backend, FileBackend)
    people = recipients(settings, 2, first_name="Ana <b>")
    results = backend.send_batch(rendered_variant(), people)
    backend.close()

    folder = workspace / "var" / "outbox" / "legs-for-back-pain"
    assert sorted(path.name for path in folder.iterdir()) == ["1.eml", "2.eml"]
    assert [(r.outcome, r.provider_message_id) for r in results] == [
        ("sent", "1.eml"),
        ("sent", "2.eml"),
    ]
    message = BytesParser(policy=email.policy.default).parsebytes((folder / "1.eml").read_bytes())
    assert isinstance(message, EmailMessage)
    assert message["To"] == people[0].email
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    html = message.get_body(("html",))
    assert html is not None and "Hello Ana &lt;b&gt;," in html.get_content()


def test_a_send_id_is_written_once(workspace: Path) -> None:
    settings = delivery_settings(workspace, backend="file")
    backend = FileBackend(settings)
    [person] = recipients(settings, 1, first_name="First")
    backend.send_batch(rendered_variant(), [person])
    path = backend.path_for("legs-for-back-pain", person.send_id)
    before = path.read_bytes()
    inode = path.stat().st_ino

    [again] = recipients(settings, 1, first_name="Second")
    [result] = backend.send_batch(rendered_variant(), [again])

    assert result.outcome == "sent"
    assert path.read_bytes() == before and path.stat().st_ino == inode
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary files left


def test_campaign_names_cannot_leave_the_outbox(workspace: Path) -> None:
    backend = FileBackend(delivery_settings(workspace))
    path = backend.path_for("../../etc", 3)
    assert path.parent.parent == workspace / "var" / "outbox"
