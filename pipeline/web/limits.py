"""Byte limits on every request body, counted as the body streams in, so a chunked upload
without Content-Length is cut off at the limit like one that declares its size (413)."""

from __future__ import annotations

import contextlib
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Anything not listed: forms and API calls, all small.
DEFAULT_BODY_LIMIT = 1024 * 1024
# (path, limit): the few routes that take more.
BODY_LIMITS = (
    # SendGrid posts event batches of at most about 768 KB.
    ("/webhooks/sendgrid", 2 * 1024 * 1024),
    # Inbound Parse posts the whole message, attachments too; an unsubscribe request is tiny.
    ("/webhooks/inbound", 5 * 1024 * 1024),
    # A clinic's whole client list as a CSV upload.
    ("/contacts/import", 50 * 1024 * 1024),
)


def body_limit(path: str) -> int:
    return dict(BODY_LIMITS).get(path, DEFAULT_BODY_LIMIT)


class BodyTooLarge(Exception):
    """Raised from `receive` once the body passes its limit, to stop whoever is reading it."""


class BodyLimitMiddleware:
    """Refuse a body over its path's limit with 413: at once when Content-Length says so,
    otherwise as soon as the bytes read pass the limit. Whatever the app was doing with the
    body is abandoned, and any response it tries to send instead (a 400 from a form parser
    that caught the error) is replaced by the 413."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        received = 0
        over = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, over
            if over:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    over = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if over:
                return
            started = True
            await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if over and not started:
            await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"request body larger than {limit:,} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
