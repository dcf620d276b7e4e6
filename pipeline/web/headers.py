"""The security headers every response gets unless its route set its own: a strict
Content-Security-Policy on pages (the app serves all its scripts and styles itself; email
previews set a sandboxing policy of their own), HSTS when the public address is https, and
no caching of anything but static assets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import Response

from pipeline.config import Settings

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)
# An email shown in a staff page's frame: its own inline styles apply, but it runs sandboxed (no
# scripts, no forms, no same-origin access) and only this site may frame it.
EMAIL_PREVIEW_HEADERS = {
    "Content-Security-Policy": "sandbox; script-src 'none'; frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
}
HSTS = "max-age=31536000"
BASE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}
# Paths whose responses may be cached: the same for everyone and holding nothing private.
CACHEABLE_PREFIXES = ("/static/", "/brand.css")


def security_headers(
    settings: Settings,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """An HTTP middleware adding the headers above to every response that lacks them."""
    https = settings.web.public_url.startswith("https://")

    async def add_headers(request: Request, call_next) -> Response:
        response = await call_next(request)
        headers = response.headers
        for name, value in BASE_HEADERS.items():
            headers.setdefault(name, value)
        if headers.get("content-type", "").startswith("text/html"):
            headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if not request.url.path.startswith(CACHEABLE_PREFIXES):
            # Staff pages, the API, exports and client pages hold personal data: a shared
            # computer's browser cache or a proxy must not keep them.
            headers.setdefault("Cache-Control", "no-store")
        if https:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response

    return add_headers


def brand_stylesheet(settings: Settings) -> Response:
    """The clinic's colour as a stylesheet, so pages need no inline style (a validated hex
    colour: nothing else can reach the CSS)."""
    css = f":root {{ --brand: {settings.clinic.brand_colour}; }}\n"
    return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=300"})
