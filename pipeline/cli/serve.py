"""`clinicmail serve` (the web app alone, under uvicorn) and `clinicmail run` (everything on one
machine: the web app, the worker, and in demo mode the local SendGrid-compatible server)."""

from __future__ import annotations

import time
from typing import Any

import click
from sqlalchemy import Engine

from pipeline.cli.base import AppContext, pass_app
from pipeline.cli.children import spawn, stop_children
from pipeline.cli.users import announce_first_owner
from pipeline.config import DEFAULT_PORT, LOCAL_SERVER_PORT, WEBHOOK_PATH, Settings

DEFAULT_DEMO_CONTACTS = 500
LOCAL_SERVER_START_SECONDS = 30.0


def web_server(settings: Settings, engine: Engine | None, host: str, port: int):
    """The web app under a uvicorn server, as `serve` and `run` start it."""
    import uvicorn

    from pipeline.bookings.figures import ensure_attribution
    from pipeline.store import open_engine
    from pipeline.web.app import create_app

    engine = engine or open_engine(settings.database_url)
    ensure_attribution(engine, settings)
    config = uvicorn.Config(
        create_app(settings, engine),
        host=host,
        port=port,
        log_level="warning",
        **proxy_options(settings),
    )
    return uvicorn.Server(config)


def proxy_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's proxy settings: forwarded headers are believed only from `[web]
    trusted_proxies`. uvicorn's own default believes them from 127.0.0.1, which would let any
    local process (or a proxy that passes the header through) choose the address the sign-in
    throttle counts against."""
    trusted = list(settings.web.trusted_proxies)
    if not trusted:
        return {"proxy_headers": False}
    return {"proxy_headers": True, "forwarded_allow_ips": trusted}


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to listen on."
)
@pass_app
def serve(app: AppContext, host: str, port: int) -> None:
    """Run the web app (staff pages, API, public pages, webhook) until interrupted. It does not
    run the scheduler or send mail: `clinicmail run` does everything.

    Example:

        clinicmail serve --host 0.0.0.0 --port 8080
    """
    app.listen_on(host, port)
    server = web_server(app.settings, app.engine, host, port)
    click.echo(f"clinicmail web app on {app.settings.web.public_url}/ (sign in at /login)")
    server.run()


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the app listens on.")
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port the app listens on."
)
@click.option(
    "--demo-contacts",
    default=DEFAULT_DEMO_CONTACTS,
    show_default=True,
    type=click.IntRange(0),
    help="Fictional clients to add when the database has no contact (local backend only).",
)
@click.option(
    "--sendgrid-port",
    default=None,
    type=int,
    help="Port of the local SendGrid-compatible server (default 3025; local backend only).",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed for the demo simulation (local backend only): the same seed gives every address "
    "the same simulated bounces, opens, clicks and unsubscribes, run after run.",
)
@pass_app
def run(
    app: AppContext,
    host: str,
    port: int,
    demo_contacts: int,
    sendgrid_port: int | None,
    seed: int | None,
) -> None:
    """Run everything until Ctrl-C: migrate the database, sync content/ and campaigns/, make a
    first owner when there is none, and start the web app, the worker (scheduler and outbox)
    and, with the local delivery backend, the local SendGrid-compatible server in demo mode
    (simulated opens and clicks, marked as such) with fictional demo clients. The worker and
    the local server run as child processes of their own ('clinicmail worker' and 'clinicmail
    dev sendgrid-server') and stop with it.

    Example:

        clinicmail run --port 8000
    """
    from pipeline.campaigns.sync import sync_campaigns
    from pipeline.content import sync_content
    from pipeline.demo import seed_demo_contacts
    from pipeline.store import open_engine, upgrade

    app.listen_on(host, port)
    settings = app.settings
    # Migrate first, on an engine of its own: app.engine refuses a database not yet migrated.
    migrating = open_engine(settings.database_url)
    try:
        upgrade(migrating)
    finally:
        migrating.dispose()
    content = sync_content(app.engine, settings)
    click.echo(
        f"content: {len(content.added)} added, {len(content.updated)} updated, "
        f"{len(content.unchanged)} unchanged"
    )
    campaigns = sync_campaigns(app.engine, settings)
    for line in campaigns.refused:
        click.echo(f"campaign file not applied: {line}", err=True)
    children = []
    try:
        if settings.delivery.backend == "local":
            seeded = seed_demo_contacts(app.engine, demo_contacts, if_empty=True)
            if not seeded.skipped:
                click.echo(f"demo: {seeded.created} fictional clients added")
            children.append(_start_local_server(settings, host, port, sendgrid_port, seed))
        announce_first_owner(app)
        # The worker renders the emails: their links follow the port `run` listens on too.
        public_url = {"CLINICMAIL_PUBLIC_URL": settings.web.public_url}
        children.append(spawn(settings.workspace, "worker", environment=public_url))
        server = web_server(settings, app.engine, host, port)
        click.echo(f"clinicmail is running: open {settings.web.public_url}/ ; Ctrl-C stops")
        server.run()
    finally:
        stop_children(children)
        click.echo("stopped")


def _start_local_server(
    settings: Settings, host: str, port: int, sendgrid_port: int | None, seed: int | None
):
    """The local SendGrid-compatible server in demo mode as a child process, once it answers."""
    import httpx

    app_address = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    local_port = LOCAL_SERVER_PORT if sendgrid_port is None else sendgrid_port
    seeded = ("--seed", str(seed)) if seed is not None else ()
    child = spawn(
        settings.workspace,
        "dev",
        "sendgrid-server",
        "--demo",
        "--port",
        str(local_port),
        "--webhook-url",
        f"http://{app_address}:{port}{WEBHOOK_PATH}",
        *seeded,
    )
    url = f"http://127.0.0.1:{local_port}"
    deadline = time.monotonic() + LOCAL_SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise click.ClickException(
                f"the local SendGrid server did not start (exit code {child.returncode})"
            )
        try:
            if httpx.get(f"{url}/_local/health", timeout=1).status_code == 200:
                click.echo(f"demo: local SendGrid-compatible server on {url} (nothing leaves)")
                return child
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_children([child])
    raise click.ClickException(f"the local SendGrid server did not answer on {url}")


def register(group: click.Group) -> None:
    group.add_command(serve)
    group.add_command(run)
