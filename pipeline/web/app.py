"""The FastAPI application: staff pages, the JSON API, the public pages and the webhook, wired
together in one place. `create_app(settings)` is what `clinicmail serve` and the tests run."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.sessions import SessionMiddleware

from pipeline.config import Settings
from pipeline.errors import ClinicmailError, InputError, NotFoundError, StateError
from pipeline.store import open_engine
from pipeline.web import api, public, webhooks
from pipeline.web.auth import (
    CsrfFailed,
    Forbidden,
    PasswordChangeRequired,
    SignInRequired,
    session_options,
)
from pipeline.web.headers import security_headers
from pipeline.web.limits import BodyLimitMiddleware
from pipeline.web.staff import staff_router
from pipeline.web.staff.rendering import render

STATIC_DIR = Path(__file__).with_name("static")
API_PREFIX = "/api"


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The whole web app for `settings`. `app.state.settings` and `app.state.engine` are what
    every router reads; pass `engine` to share one the caller already opened."""
    app = FastAPI(
        title="clinicmail",
        summary="Campaigns and their metrics for the clinic's staff.",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine or open_engine(settings.database_url)
    app.add_middleware(SessionMiddleware, **session_options(settings))
    # Outermost of the app's own middleware, so no body is read past its limit by anyone.
    app.add_middleware(BodyLimitMiddleware)
    app.middleware("http")(security_headers(settings))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(ClinicmailError, _clinicmail_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_api_route("/favicon.ico", _favicon, include_in_schema=False)
    app.include_router(staff_router(settings))
    app.include_router(api.router)
    app.include_router(public.router)
    app.include_router(webhooks.router)
    return app


def _favicon() -> FileResponse:
    """Browsers ask for /favicon.ico whatever the page links; the same small SVG answers."""
    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


async def _http_error(request: Request, error: Exception) -> Response:
    """Starlette's HTTP errors as usual, except that a 405 under /api lists every method the
    path serves (Starlette names only the first route that matched)."""
    assert isinstance(error, StarletteHTTPException)
    headers = dict(error.headers or {})
    if error.status_code == 405 and _wants_json(request):
        headers["Allow"] = ", ".join(api.allowed_methods(request.app, request.url.path))
    return await http_exception_handler(
        request, StarletteHTTPException(error.status_code, error.detail, headers)
    )


def _status_for(error: ClinicmailError) -> int:
    if isinstance(error, SignInRequired):
        return 401
    if isinstance(error, Forbidden | CsrfFailed):
        return 403
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, StateError):
        return 409
    if isinstance(error, InputError):
        return 422
    return 400


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX + "/") or request.url.path == API_PREFIX


async def _clinicmail_error(request: Request, error: Exception) -> Response:
    """Library errors as people expect them: JSON for the API, a redirect to sign in or an
    error page for the staff pages."""
    assert isinstance(error, ClinicmailError)
    status = _status_for(error)
    if _wants_json(request):
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse({"detail": str(error)}, status_code=status, headers=headers)
    if isinstance(error, SignInRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    if isinstance(error, PasswordChangeRequired):
        return RedirectResponse("/account/password", status_code=303)
    titles = {403: "Not allowed", 404: "Not found", 409: "Not possible now"}
    context = {"title": titles.get(status, "Something is not right"), "message": str(error)}
    return render(request, "error.html", context, status_code=status)
