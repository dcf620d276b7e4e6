"""Staff users of the web app: add, list, remove, set passwords, mint API tokens."""

from __future__ import annotations

import sys

import click

from pipeline.cli.base import AppContext, pass_app, print_json, print_table
from pipeline.errors import InputError
from pipeline.store import users as user_store
from pipeline.web.auth import ROLES, add_user, change_password, generate_password, mint_api_token


def _read_password_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise InputError("--password-stdin: no password on standard input")
    return password


@click.group()
def users() -> None:
    """Staff who sign in to the web app, and their API tokens.

    Example:

        clinicmail users add manager@clinic.example --role owner
    """


@users.command("add")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="marketing",
    show_default=True,
    help="What they may do.",
)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (no one-time password).",
)
@pass_app
def users_add(app: AppContext, email: str, role: str, password_stdin: bool) -> None:
    """Add a user. Without --password-stdin a one-time password is printed, which they change
    at their first sign-in. Owners can do everything; marketing staff all but manage users.

    Example:

    \b
        clinicmail users add anna@clinic.example --role marketing
        clinicmail users add boss@clinic.example --role owner --password-stdin < pw.txt
    """
    password = _read_password_stdin() if password_stdin else None
    user, one_time = add_user(app.engine, email, role, password)
    click.echo(f"added {user.email} ({user.role})")
    if one_time:
        click.echo(f"one-time password: {one_time}")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_app
def users_list(app: AppContext, as_json: bool) -> None:
    """List the users, their roles and when they last signed in.

    Example:

        clinicmail users list --json
    """
    with app.engine.connect() as conn:
        people = user_store.list_users(conn)
    rows = [
        {
            "email": person.email,
            "role": person.role,
            "must_change_password": person.must_change_password,
            "last_login_at": person.last_login_at.isoformat() if person.last_login_at else None,
        }
        for person in people
    ]
    if as_json:
        print_json(rows)
        return
    print_table(
        ["email", "role", "last sign-in"],
        [(row["email"], row["role"], row["last_login_at"] or "never") for row in rows],
    )


@users.command("password")
@click.argument("email")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the new password from standard input instead of making a one-time one.",
)
@pass_app
def users_password(app: AppContext, email: str, password_stdin: bool) -> None:
    """Set a user's password: a one-time one (printed; changed at next sign-in) or one read
    from standard input. Their open sessions end.

    Example:

        clinicmail users password anna@clinic.example
    """
    with app.engine.connect() as conn:
        user = user_store.get_user_by_email(conn, email)
    if password_stdin:
        change_password(app.engine, user.id, _read_password_stdin(), one_time=False)
        click.echo(f"password set for {user.email}")
    else:
        one_time = generate_password()
        change_password(app.engine, user.id, one_time, one_time=True)
        click.echo(f"one-time password for {user.email}: {one_time}")


@users.command("remove")
@click.argument("email")
@pass_app
def users_remove(app: AppContext, email: str) -> None:
    """Remove a user: they can no longer sign in and their API tokens stop working.

    Example:

        clinicmail users remove anna@clinic.example
    """
    with app.engine.begin() as conn:
        user = user_store.get_user_by_email(conn, email)
        if user.is_owner and user_store.count_owners(conn) == 1:
            raise InputError(f"{user.email} is the only owner; add another owner first")
        user_store.delete_user(conn, user.id)
    click.echo(f"removed {user.email}")


@users.command("token")
@click.argument("email")
@click.option("--name", default="api", show_default=True, help="What the token is for.")
@pass_app
def users_token(app: AppContext, email: str, name: str) -> None:
    """Mint an API token for the user (for /api, as `Authorization: Bearer TOKEN`). It is
    printed once; only its hash is kept.

    Example:

        clinicmail users token owner@clinic.example --name reporting
    """
    click.echo(mint_api_token(app.engine, email, name))


@users.command("ensure-owner")
@click.option(
    "--email", default=None, help="The owner's address (default: owner@ the sender's domain)."
)
@pass_app
def users_ensure_owner(app: AppContext, email: str | None) -> None:
    """Make a first owner when there are no users yet, and print how to sign in with a one-time
    password; with users already there, say so and change nothing. `clinicmail run` (and so
    `make run`) does the same at start.

    Example:

        clinicmail users ensure-owner --email owner@clinic.example
    """
    announce_first_owner(app, email)


def announce_first_owner(app: AppContext, email: str | None = None) -> None:
    """Make the first owner when there is no user, and print how to sign in."""
    settings = app.settings
    with app.engine.connect() as conn:
        existing = user_store.count_users(conn)
    if existing:
        click.echo(
            f"{existing} staff user(s) exist; sign in at {settings.web.public_url}/login "
            "(a forgotten password: clinicmail users password EMAIL)"
        )
        return
    address = email or f"owner@{str(settings.sender.email).split('@', 1)[1]}"
    user, one_time = add_user(app.engine, address, "owner", None)
    click.echo(f"first owner: {user.email}")
    click.echo(f"one-time password: {one_time}  (you choose your own at first sign-in)")
    click.echo(f"sign in at {settings.web.public_url}/login")


def register(group: click.Group) -> None:
    group.add_command(users)
