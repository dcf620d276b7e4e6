"""The FastAPI application: staff pages, the JSON API, the public pages and the webhook, wired
together in one place. `create_app(settings)` is what `clinicmail serve` and the tests run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.errors import ClinicmailError, InputError, NotFoundError, StateError
from pipeline.store import open_engine

STATIC_DIR = Path(__file__).with_name("static")
TEMPLATES_DIR = Path(__file__).with_name("templates")


def create_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The whole web app for `settings`. `app.state.settings` and `app.state.engine` are what
    every router reads; pass `engine` to share one the caller already opened."""
    app = FastAPI(
        title="clinicmail",
        summary="Campaigns and their metrics for the clinic's staff.",
        version="1",
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine or open_engine(settings.database_url)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_exception_handler(ClinicmailError, _clinicmail_error)
    for module in ("pipeline.web.public", "pipeline.web.webhooks"):
        if importlib.util.find_spec(module) is not None:
            app.include_router(importlib.import_module(module).router)
    return app


def _status_for(error: ClinicmailError) -> int:
    if isinstance(error, NotFoundError):
        return 404
    if isinstance(error, StateError):
        return 409
    if isinstance(error, InputError):
        return 422
    return 400


async def _clinicmail_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ClinicmailError)
    return JSONResponse({"detail": str(error)}, status_code=_status_for(error))
