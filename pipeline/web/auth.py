"""Staff sign-in: argon2 password hashes, the signed session cookie, CSRF tokens on forms,
login throttling per account and per address, API tokens, and the FastAPI dependencies that
guard every staff page and API route."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine

from pipeline.config import Settings
from pipeline.errors import ClinicmailError, InputError
from pipeline.identity import email_key
from pipeline.models import StaffRole, StaffUser
from pipeline.store import users as user_store
from pipeline.store.types import utcnow

SESSION_COOKIE = "clinicmail_session"
SESSION_MAX_AGE = 12 * 3600
MIN_PASSWORD_LENGTH = 10
ROLES: tuple[StaffRole, ...] = ("owner", "marketing")

ACCOUNT_LIMIT = 5
ADDRESS_LIMIT = 20
THROTTLE_WINDOW = timedelta(minutes=15)
LOCKOUT = timedelta(minutes=15)

_hasher = PasswordHasher()
# Verified against when the address is unknown, so a wrong address takes as long as a wrong
# password and response times do not reveal who has an account.
_UNKNOWN_USER_HASH = _hasher.hash(secrets.token_urlsafe(16))


class SignInRequired(ClinicmailError):
    """The request has no valid session (pages) or token (API)."""


class Forbidden(ClinicmailError):
    """Signed in, but the role does not allow this."""


class CsrfFailed(ClinicmailError):
    """A form came back without the token this session issued."""


class SignInRefused(ClinicmailError):
    """Wrong address or password, or too many recent failures."""


class PasswordChangeRequired(ClinicmailError):
    """Signed in with a one-time password that has not been changed yet."""


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip() != password:
        raise InputError("the password must not start or end with a space")


def hash_password(password: str) -> str:
    check_password_policy(password)
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A one-time password: 16 URL-safe characters, to be changed at first sign-in."""
    return secrets.token_urlsafe(12)


def check_role(role: str) -> StaffRole:
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}: use owner or marketing")
    return role  # type: ignore[return-value]


def add_user(
    engine: Engine, email: str, role: str, password: str | None
) -> tuple[StaffUser, str | None]:
    """A new user. Without `password` a one-time one is made, returned, and must be changed at
    first sign-in."""
    one_time = None if password is not None else generate_password()
    if "@" not in email.strip():
        raise InputError(f"{email!r} is not an email address")
    password_hash = hash_password(password if password is not None else one_time)
    with engine.begin() as conn:
        user = user_store.create_user(
            conn, email, check_role(role), password_hash, must_change_password=one_time is not None
        )
    return user, one_time


def change_password(engine: Engine, user_id: int, password: str, *, one_time: bool) -> None:
    password_hash = hash_password(password)
    with engine.begin() as conn:
        user_store.set_password(conn, user_id, password_hash, must_change_password=one_time)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint_api_token(engine: Engine, email: str, name: str) -> str:
    """A new API token for the user; only its hash is stored, so it is shown once."""
    token = "cm_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        user = user_store.get_user_by_email(conn, email)
        user_store.create_api_token(conn, user.id, name, token_hash(token))
    return token


@dataclass(frozen=True)
class Throttle:
    limit: int
    key: str


def _throttles(email: str, address: str | None) -> list[Throttle]:
    keys = [Throttle(ACCOUNT_LIMIT, f"account:{email_key(email)}")]
    if address:
        keys.append(Throttle(ADDRESS_LIMIT, f"ip:{address}"))
    return keys


def sign_in(
    engine: Engine, email: str, password: str, address: str | None, now: datetime | None = None
) -> StaffUser:
    """The user whose address and password these are. Failures count per account and per
    client address; past the limit both are refused until the lockout ends, even with the
    right password, so guessing gains nothing."""
    now = now or utcnow()
    throttles = _throttles(email, address)
    with engine.begin() as conn:
        until = user_store.locked_until(conn, [throttle.key for throttle in throttles], now)
    if until is not None:
        raise SignInRefused(_locked_message(until, now))
    with engine.connect() as conn:
        user = user_store.find_user(conn, email)
    hashed = user.password_hash if user else _UNKNOWN_USER_HASH
    if verify_password(hashed, password) and user is not None:
        with engine.begin() as conn:
            user_store.clear_failed_sign_ins(conn, throttles[0].key)
            user_store.record_sign_in(conn, user.id, now)
            if _hasher.check_needs_rehash(user.password_hash):
                user_store.set_password(
                    conn,
                    user.id,
                    _hasher.hash(password),
                    must_change_password=user.must_change_password,
                )
                user = user_store.get_user(conn, user.id)
        return user
    locked = None
    with engine.begin() as conn:
        for throttle in throttles:
            locked = (
                user_store.record_failed_sign_in(
                    conn,
                    throttle.key,
                    now,
                    limit=throttle.limit,
                    window=THROTTLE_WINDOW,
                    lockout=LOCKOUT,
                )
                or locked
            )
    if locked is not None:
        raise SignInRefused(_locked_message(locked, now))
    raise SignInRefused("That address and password do not match an account.")


def _locked_message(until: datetime, now: datetime) -> str:
    minutes = max(1, int((until - now).total_seconds() + 59) // 60)
    return (
        f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
        "or ask the owner to reset your password."
    )


def session_fingerprint(user: StaffUser) -> str:
    """Ties a session to the password it was opened with: a new password ends other sessions."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]


def start_session(request: Request, user: StaffUser) -> None:
    request.session.clear()
    request.session.update(
        user_id=user.id, auth=session_fingerprint(user), csrf=secrets.token_urlsafe(32)
    )


def end_session(request: Request) -> None:
    request.session.clear()


def csrf_token(request: Request) -> str:
    """This session's form token, made on first use (the sign-in form needs one too)."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def session_user(request: Request) -> StaffUser | None:
    user_id = request.session.get("user_id")
    if not isinstance(user_id, int):
        return None
    engine: Engine = request.app.state.engine
    with engine.connect() as conn:
        user = user_store.find_user_by_id(conn, user_id)
    if user is None or not hmac.compare_digest(
        str(request.session.get("auth", "")), session_fingerprint(user)
    ):
        return None
    return user


async def staff_user(request: Request) -> StaffUser:
    """Dependency of every staff page: the signed-in user, else SignInRequired (a redirect to
    the sign-in page). A user holding a one-time password may only change it."""
    user = session_user(request)
    if user is None:
        raise SignInRequired("sign in to see this page")
    request.state.user = user
    if user.must_change_password and request.url.path not in ("/account/password", "/logout"):
        raise PasswordChangeRequired("choose a new password first")
    return user


async def owner_user(request: Request) -> StaffUser:
    user = await staff_user(request)
    if not user.is_owner:
        raise Forbidden("only the owner can manage users")
    return user


async def verify_csrf(request: Request) -> None:
    """Dependency of every staff route: a form post must carry this session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    form = await request.form()
    sent = form.get("csrf_token")
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfFailed(
            "the form has expired or did not come from this site; reload the page and try again"
        )


_bearer = HTTPBearer(auto_error=False, description="An API token: `clinicmail users token`.")


async def api_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> StaffUser:
    """Dependency of every API route: the user whose bearer token this is."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise SignInRequired("send an API token: Authorization: Bearer <token>")
    engine: Engine = request.app.state.engine
    with engine.begin() as conn:
        user = user_store.user_for_token(conn, token_hash(credentials.credentials), utcnow())
    if user is None:
        raise SignInRequired("the API token is not valid (revoked or mistyped)")
    request.state.user = user
    return user


def session_options(settings: Settings) -> dict[str, Any]:
    """Starlette SessionMiddleware's options: a signed cookie (itsdangerous), HttpOnly,
    SameSite=Lax, and Secure whenever the public address is https."""
    return {
        "secret_key": settings.secret_key.get_secret_value(),
        "session_cookie": SESSION_COOKIE,
        "max_age": SESSION_MAX_AGE,
        "same_site": "lax",
        "https_only": settings.web.public_url.startswith("https://"),
    }
