"""Signing in and out, and changing one's own password."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from pipeline.errors import InputError
from pipeline.models import StaffUser
from pipeline.store import users as user_store
from pipeline.web.auth import (
    MIN_PASSWORD_LENGTH,
    SignInRefused,
    change_password,
    end_session,
    session_user,
    sign_in,
    staff_user,
    start_session,
    verify_csrf,
    verify_password,
)
from pipeline.web.staff.rendering import flash, redirect, render

public_router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])
router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never an open redirect to another host."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@public_router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    if session_user(request) is not None:
        return redirect(_safe_next(next))
    return render(request, "login.html", {"next": _safe_next(next), "email": "", "error": None})


@public_router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/",
) -> Response:
    address = request.client.host if request.client else None
    try:
        user = sign_in(request.app.state.engine, email, password, address)
    except SignInRefused as refused:
        context = {"next": _safe_next(next), "email": email, "error": str(refused)}
        return render(request, "login.html", context, status_code=401)
    start_session(request, user)
    if user.must_change_password:
        return redirect("/account/password")
    return redirect(_safe_next(next))


@public_router.post("/logout")
def logout(request: Request) -> Response:
    end_session(request)
    return redirect("/login")


@router.get("/account/password")
def password_page(request: Request, user: Annotated[StaffUser, Depends(staff_user)]) -> Response:
    return render(request, "password.html", {"min_length": MIN_PASSWORD_LENGTH, "error": None})


@router.post("/account/password")
def password_change(
    request: Request,
    user: Annotated[StaffUser, Depends(staff_user)],
    current: Annotated[str, Form()],
    new: Annotated[str, Form()],
    repeat: Annotated[str, Form()],
) -> Response:
    error = None
    if not verify_password(user.password_hash, current):
        error = "The current password is not right."
    elif new != repeat:
        error = "The two new passwords differ."
    elif new == current:
        error = "Choose a password different from the current one."
    else:
        try:
            change_password(request.app.state.engine, user.id, new, one_time=False)
        except InputError as problem:
            error = f"The new password is not accepted: {problem}."
    if error:
        context = {"min_length": MIN_PASSWORD_LENGTH, "error": error}
        return render(request, "password.html", context, status_code=422)
    with request.app.state.engine.connect() as conn:
        changed = user_store.get_user(conn, user.id)
    start_session(request, changed)
    flash(request, "Your password has been changed.")
    return redirect("/")
