"""Previews never wait on images they cannot reach: an email preview's outside images are
fetched through the app with a short timeout, and one that does not come in time (or is not
an image) shows as a grey placeholder. Answers are remembered for a while, so a dead image
host costs that timeout once, not on every preview."""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeSerializer

from pipeline.config import Settings
from pipeline.content.addresses import fetching_client
from pipeline.errors import ContentError

router = APIRouter(include_in_schema=False)
FETCH_TIMEOUT_S = 2.0
LARGEST_IMAGE = 5 * 1024 * 1024
REMEMBERED = 128
REMEMBER_FOR_S = 300
_OUTSIDE_IMAGE = re.compile(r'(<img\b[^>]*?\bsrc=")(https?://[^"]+)(")', re.IGNORECASE)
PLACEHOLDER = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="240" height="60" viewBox="0 0 240 60">'
    b'<rect width="240" height="60" fill="#e3e8ea"/><text x="120" y="35" text-anchor="middle" '
    b'font-family="sans-serif" font-size="12" fill="#5b686d">image not reachable</text></svg>'
)
_answers: OrderedDict[tuple[bool, str], tuple[float, bytes, str]] = OrderedDict()
_lock = threading.Lock()


def _signer(settings: Settings) -> URLSafeSerializer:
    return URLSafeSerializer(settings.secret_key.get_secret_value(), salt="preview-image")


def through_the_app(html: str, settings: Settings) -> str:
    """`html` with every outside image fetched through /preview-image (signed addresses only,
    so the app fetches nothing but the images of its own previews)."""
    signer = _signer(settings)

    def replace(match: re.Match) -> str:
        address = match[2].replace("&amp;", "&")
        return f"{match[1]}/preview-image?u={signer.dumps(address)}{match[3]}"

    return _OUTSIDE_IMAGE.sub(replace, html)


def _fetch(address: str, allow_private: bool) -> tuple[bytes, str]:
    """The image at `address`, through the client article fetching uses: only public addresses
    (redirects included) unless `[feeds] allow_private`, so a preview cannot make the app reach
    into its own network."""
    try:
        with (
            fetching_client(FETCH_TIMEOUT_S, allow_private, headers={}) as client,
            client.stream("GET", address) as response,
        ):
            kind = response.headers.get("content-type", "")
            if response.status_code != 200 or not kind.startswith("image/"):
                return PLACEHOLDER, "image/svg+xml"
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > LARGEST_IMAGE:
                    return PLACEHOLDER, "image/svg+xml"
            return bytes(body), kind
    except (httpx.HTTPError, ContentError):
        return PLACEHOLDER, "image/svg+xml"


def preview_image(address: str, allow_private: bool = False) -> tuple[bytes, str]:
    now = time.monotonic()
    key = (allow_private, address)
    with _lock:
        known = _answers.get(key)
        if known and now - known[0] < REMEMBER_FOR_S:
            return known[1], known[2]
    body, kind = _fetch(address, allow_private)
    with _lock:
        _answers[key] = (now, body, kind)
        while len(_answers) > REMEMBERED:
            _answers.popitem(last=False)
    return body, kind


@router.get("/preview-image")
def preview_image_route(request: Request, u: str = "") -> Response:
    settings = request.app.state.settings
    try:
        address = _signer(settings).loads(u)
    except BadSignature:
        return Response(PLACEHOLDER, media_type="image/svg+xml", status_code=404)
    body, kind = preview_image(str(address), settings.feeds.allow_private)
    return Response(body, media_type=kind, headers={"Cache-Control": "private, max-age=300"})
