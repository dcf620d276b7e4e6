"""Managing staff users and API tokens: the owner only (marketing staff cannot reach it)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from pipeline.errors import InputError, StateError
from pipeline.models import StaffUser
from pipeline.store import users as user_store
from pipeline.web.auth import (
    ROLES,
    add_user,
    change_password,
    check_role,
    generate_password,
    mint_api_token,
    owner_user,
)
from pipeline.web.staff.rendering import flash, redirect, render

router = APIRouter(include_in_schema=False, dependencies=[Depends(owner_user)])
Owner = Annotated[StaffUser, Depends(owner_user)]


def _page(request: Request, **extra) -> Response:
    engine = request.app.state.engine
    with engine.connect() as conn:
        users = user_store.list_users(conn)
        tokens = user_store.list_api_tokens(conn)
    context = {"users": users, "tokens": tokens, "roles": ROLES, "new_password": None}
    return render(request, "users.html", {**context, "new_token": None, **extra})


@router.get("/users")
def users_page(request: Request) -> Response:
    return _page(request)


@router.post("/users")
def users_add(
    request: Request, email: Annotated[str, Form()], role: Annotated[str, Form()]
) -> Response:
    try:
        user, one_time = add_user(request.app.state.engine, email, role, None)
    except InputError as problem:
        flash(request, str(problem), "error")
        return redirect("/users")
    return _page(request, new_password={"email": user.email, "password": one_time})


def _other_user(request: Request, owner: StaffUser, user_id: int) -> StaffUser:
    if user_id == owner.id:
        raise StateError("you cannot change your own account here; use Change password")
    with request.app.state.engine.connect() as conn:
        return user_store.get_user(conn, user_id)


@router.post("/users/{user_id}/role")
def users_set_role(
    request: Request, owner: Owner, user_id: int, role: Annotated[str, Form()]
) -> Response:
    person = _other_user(request, owner, user_id)
    with request.app.state.engine.begin() as conn:
        user_store.set_role(conn, person.id, check_role(role))
    flash(request, f"{person.email} is now {role}.")
    return redirect("/users")


@router.post("/users/{user_id}/reset")
def users_reset_password(request: Request, owner: Owner, user_id: int) -> Response:
    person = _other_user(request, owner, user_id)
    one_time = generate_password()
    change_password(request.app.state.engine, person.id, one_time, one_time=True)
    return _page(request, new_password={"email": person.email, "password": one_time})


@router.get("/users/{user_id}/delete")
def users_delete_confirm(request: Request, owner: Owner, user_id: int) -> Response:
    person = _other_user(request, owner, user_id)
    context = {
        "title": f"Remove {person.email}?",
        "message": "They can no longer sign in. To let them back, add them again as a new user.",
        "action": f"/users/{person.id}/delete",
        "confirm_label": "Yes, remove them",
        "back": "/users",
        "back_label": "No, keep them",
        "danger": True,
    }
    return render(request, "confirm.html", context)


@router.post("/users/{user_id}/delete")
def users_delete(
    request: Request, owner: Owner, user_id: int, confirmed: Annotated[str, Form()] = ""
) -> Response:
    if confirmed != "yes":
        return redirect(f"/users/{user_id}/delete")
    person = _other_user(request, owner, user_id)
    with request.app.state.engine.begin() as conn:
        user_store.delete_user(conn, person.id)
    flash(request, f"{person.email} can no longer sign in.")
    return redirect("/users")


@router.post("/users/tokens")
def users_token_add(request: Request, owner: Owner, name: Annotated[str, Form()]) -> Response:
    token = mint_api_token(request.app.state.engine, owner.email, name.strip() or "token")
    return _page(request, new_token={"name": name, "token": token})


@router.post("/users/tokens/{token_id}/revoke")
def users_token_revoke(request: Request, token_id: int) -> Response:
    with request.app.state.engine.begin() as conn:
        user_store.revoke_api_token(conn, token_id)
    flash(request, "The token no longer works.")
    return redirect("/users")
