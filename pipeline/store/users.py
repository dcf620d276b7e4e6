"""Staff users, their API tokens and the sign-in throttle: named queries over `users`,
`api_tokens` and `login_throttles`. Password hashing and policy live in pipeline.web.auth."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from pipeline.errors import InputError, NotFoundError
from pipeline.identity import email_key
from pipeline.models import StaffRole, StaffUser
from pipeline.store.tables import api_tokens, login_throttles, users
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
            f"a user with the address {email_key(email)} already exists; "
            "use 'clinicmail users password' to set a new password"
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
            f"no user with the address {email_key(email)}; 'clinicmail users list' shows them"
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
    conn.execute(delete(users).where(users.c.id == user_id))


def record_sign_in(conn: Connection, user_id: int, now: datetime) -> None:
    conn.execute(update(users).where(users.c.id == user_id).values(last_login_at=now))


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


def locked_until(conn: Connection, keys: list[str], now: datetime) -> datetime | None:
    """The latest lockout still running for any of `keys`, or None when sign-in may proceed."""
    latest = conn.execute(
        select(func.max(login_throttles.c.locked_until)).where(
            login_throttles.c.key.in_(keys), login_throttles.c.locked_until > now
        )
    ).scalar_one()
    return latest


def record_failed_sign_in(
    conn: Connection,
    key: str,
    now: datetime,
    *,
    limit: int,
    window: timedelta,
    lockout: timedelta,
) -> datetime | None:
    """Count one failure for `key` in its window; at `limit` failures the key is locked for
    `lockout`. Returns the lockout's end when this failure started one."""
    # Row-locked read-then-write (FOR UPDATE on PostgreSQL; SQLite's writer lock is already
    # held by BEGIN IMMEDIATE) so that concurrent failures are all counted.
    row = conn.execute(
        select(login_throttles).where(login_throttles.c.key == key).with_for_update()
    ).one_or_none()
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(login_throttles).values(key=key, failures=0, window_started_at=now)
                )
        except IntegrityError:
            pass  # another request inserted it first; it is counted below all the same
        row = conn.execute(
            select(login_throttles).where(login_throttles.c.key == key).with_for_update()
        ).one()
    failures, started = row.failures + 1, row.window_started_at
    if started < now - window:
        failures, started = 1, now
    until = now + lockout if failures >= limit else None
    conn.execute(
        update(login_throttles)
        .where(login_throttles.c.key == key)
        .values(
            failures=0 if until else failures,
            window_started_at=now if until else started,
            locked_until=until or row.locked_until,
        )
    )
    return until


def clear_failed_sign_ins(conn: Connection, key: str) -> None:
    conn.execute(delete(login_throttles).where(login_throttles.c.key == key))
