"""Staff users, their sessions, API tokens and the sign-in throttle: named queries over
`users`, `staff_sessions`, `api_tokens` and `login_throttles`. Password hashing and policy live
in pipeline.web.auth."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, case, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from pipeline.errors import InputError, NotFoundError
from pipeline.identity import email_key
from pipeline.models import StaffRole, StaffUser
from pipeline.store.tables import api_tokens, login_throttles, staff_sessions, users
from pipeline.store.types import utcnow


def _user(row) -> StaffUser:
    return StaffUser(
        id=row.id,
        email=row.email,
        role=row.role,
        password_hash=row.password_hash,
        must_change_password=row.must_change_password,
        last_login_at=row.last_login_at,
    )


def create_user(
    conn: Connection,
    email: str,
    role: StaffRole,
    password_hash: str,
    *,
    must_change_password: bool = False,
) -> StaffUser:
    """A new user; an address already in use is an InputError (one account per address)."""
    now = utcnow()
    try:
        with conn.begin_nested():
            user_id = conn.execute(
                insert(users)
                .values(
                    email=email_key(email),
                    role=role,
                    password_hash=password_hash,
                    must_change_password=must_change_password,
                    created_at=now,
                    updated_at=now,
                )
                .returning(users.c.id)
            ).scalar_one()
    except IntegrityError:
        raise InputError(
            f"a user with the address {email_key(email)} already exists",
            command_hint="use 'clinicmail users password' to set a new password",
        ) from None
    return get_user(conn, user_id)


def find_user_by_id(conn: Connection, user_id: int) -> StaffUser | None:
    row = conn.execute(select(users).where(users.c.id == user_id)).one_or_none()
    return None if row is None else _user(row)


def get_user(conn: Connection, user_id: int) -> StaffUser:
    user = find_user_by_id(conn, user_id)
    if user is None:
        raise NotFoundError(f"no user with id {user_id}")
    return user


def find_user(conn: Connection, email: str) -> StaffUser | None:
    row = conn.execute(select(users).where(users.c.email == email_key(email))).one_or_none()
    return None if row is None else _user(row)


def get_user_by_email(conn: Connection, email: str) -> StaffUser:
    user = find_user(conn, email)
    if user is None:
        raise NotFoundError(
            f"no user with the address {email_key(email)}",
            command_hint="'clinicmail users list' shows them",
        )
    return user


def list_users(conn: Connection) -> list[StaffUser]:
    return [_user(row) for row in conn.execute(select(users).order_by(users.c.email))]


def count_users(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(users)).scalar_one()


def count_owners(conn: Connection) -> int:
    return conn.execute(
        select(func.count()).select_from(users).where(users.c.role == "owner")
    ).scalar_one()


def set_password(
    conn: Connection, user_id: int, password_hash: str, *, must_change_password: bool
) -> None:
    conn.execute(
        update(users)
        .where(users.c.id == user_id)
        .values(
            password_hash=password_hash,
            must_change_password=must_change_password,
            updated_at=utcnow(),
        )
    )


def set_role(conn: Connection, user_id: int, role: StaffRole) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(role=role, updated_at=utcnow()))


def delete_user(conn: Connection, user_id: int) -> None:
    """Remove the user; their sessions and API tokens go with them."""
    delete_user_sessions(conn, user_id)
    conn.execute(delete(api_tokens).where(api_tokens.c.user_id == user_id))
    conn.execute(delete(users).where(users.c.id == user_id))


def record_sign_in(conn: Connection, user_id: int, now: datetime) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(last_login_at=now))


def create_session(
    conn: Connection, id_hash: str, user_id: int, now: datetime, expires_at: datetime
) -> None:
    """A new session for the user; sessions that have run out are cleared on the way."""
    conn.execute(delete(staff_sessions).where(staff_sessions.c.expires_at <= now))
    conn.execute(
        insert(staff_sessions).values(
            id_hash=id_hash, user_id=user_id, created_at=now, expires_at=expires_at
        )
    )


def user_for_session(conn: Connection, id_hash: str, now: datetime) -> StaffUser | None:
    """The user a live session belongs to; None once it was revoked or has run out."""
    row = conn.execute(
        select(users)
        .join(staff_sessions, staff_sessions.c.user_id == users.c.id)
        .where(staff_sessions.c.id_hash == id_hash, staff_sessions.c.expires_at > now)
    ).one_or_none()
    return None if row is None else _user(row)


def delete_session(conn: Connection, id_hash: str) -> None:
    conn.execute(delete(staff_sessions).where(staff_sessions.c.id_hash == id_hash))


def delete_user_sessions(conn: Connection, user_id: int) -> None:
    conn.execute(delete(staff_sessions).where(staff_sessions.c.user_id == user_id))


def create_api_token(conn: Connection, user_id: int, name: str, token_hash: str) -> int:
    return conn.execute(
        insert(api_tokens)
        .values(user_id=user_id, name=name, token_hash=token_hash, created_at=utcnow())
        .returning(api_tokens.c.id)
    ).scalar_one()


def user_for_token(conn: Connection, token_hash: str, now: datetime) -> StaffUser | None:
    """The user a token hash belongs to, noting when the token was last used."""
    row = conn.execute(
        select(users, api_tokens.c.id.label("token_id"))
        .join(api_tokens, api_tokens.c.user_id == users.c.id)
        .where(api_tokens.c.token_hash == token_hash)
    ).one_or_none()
    if row is None:
        return None
    conn.execute(update(api_tokens).where(api_tokens.c.id == row.token_id).values(last_used_at=now))
    return _user(row)


def list_api_tokens(conn: Connection, user_id: int | None = None) -> list[dict]:
    query = (
        select(
            api_tokens.c.id,
            api_tokens.c.name,
            api_tokens.c.created_at,
            api_tokens.c.last_used_at,
            users.c.email,
        )
        .join(users, users.c.id == api_tokens.c.user_id)
        .order_by(api_tokens.c.id)
    )
    if user_id is not None:
        query = query.where(api_tokens.c.user_id == user_id)
    return [dict(row._mapping) for row in conn.execute(query)]


def revoke_api_token(conn: Connection, token_id: int, user_id: int | None = None) -> None:
    condition = api_tokens.c.id == token_id
    if user_id is not None:
        condition = condition & (api_tokens.c.user_id == user_id)
    if conn.execute(delete(api_tokens).where(condition)).rowcount == 0:
        raise NotFoundError(f"no API token with id {token_id}")


def claim_sign_in_attempt(
    conn: Connection, key: str, now: datetime, *, window: timedelta
) -> tuple[int, datetime | None]:
    """Count one sign-in attempt for `key` before its password is checked, and return the
    attempts in the current window (this one included) with the lockout still running, if any.

    One INSERT … ON CONFLICT DO UPDATE … RETURNING counts and reads in a single atomic step
    on both databases, so parallel attempts each see a distinct count: with a limit of 5, at
    most 5 of any burst get a password check. An attempt during a lockout is not counted; the
    first after a lockout or after the window starts a new window."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    table = login_throttles.c
    locked = table.locked_until.is_not(None) & (table.locked_until > now)
    starts_afresh = (table.window_started_at <= now - window) | table.locked_until.is_not(None)
    statement = (
        dialect.insert(login_throttles)
        .values(key=key, failures=1, window_started_at=now, locked_until=None)
        .on_conflict_do_update(
            index_elements=[table.key],
            set_={
                "failures": case(
                    (locked, table.failures), (starts_afresh, 1), else_=table.failures + 1
                ),
                "window_started_at": case(
                    (locked, table.window_started_at),
                    (starts_afresh, now),
                    else_=table.window_started_at,
                ),
                "locked_until": case((locked, table.locked_until), else_=None),
            },
        )
        .returning(table.failures, table.locked_until)
    )
    row = conn.execute(statement).one()
    return row.failures, row.locked_until


def lock_sign_ins(conn: Connection, key: str, until: datetime) -> None:
    """Refuse every attempt for `key` until `until` (a running lockout is never shortened)."""
    conn.execute(
        update(login_throttles)
        .where(
            login_throttles.c.key == key,
            login_throttles.c.locked_until.is_(None) | (login_throttles.c.locked_until < until),
        )
        .values(locked_until=until)
    )


def forget_sign_in_attempt(conn: Connection, key: str) -> None:
    """Give back one counted attempt (a successful sign-in does not count against its address)."""
    conn.execute(
        update(login_throttles)
        .where(login_throttles.c.key == key, login_throttles.c.failures > 0)
        .values(failures=login_throttles.c.failures - 1)
    )


def clear_failed_sign_ins(conn: Connection, key: str) -> None:
    conn.execute(delete(login_throttles).where(login_throttles.c.key == key))
