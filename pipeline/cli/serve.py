"""`clinicmail serve` (the web app alone, under uvicorn) and `clinicmail run` (everything on one
machine: the web app, the worker, and in demo mode the local SendGrid-compatible server)."""

from __future__ import annotations

import threading

import click

from pipeline.cli.base import AppContext, pass_app
from pipeline.cli.users import announce_first_owner
from pipeline.config import DEFAULT_PORT, WEBHOOK_PATH

DEFAULT_DEMO_CONTACTS = 500


def _uvicorn_server(app: AppContext, host: str, port: int):
    import uvicorn

    from pipeline.bookings.figures import ensure_attribution
    from pipeline.web.app import create_app

    ensure_attribution(app.engine, app.settings)
    config = uvicorn.Config(
        create_app(app.settings, app.engine), host=host, port=port, log_level="warning"
    )
    return uvicorn.Server(config)


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
    server = _uvicorn_server(app, host, port)
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
    (simulated opens and clicks, marked as such) with fictional demo clients.

    Example:

        clinicmail run --port 8000
    """
    from pipeline.campaigns.sync import sync_campaigns
    from pipeline.content import sync_content
    from pipeline.demo import seed_demo_contacts
    from pipeline.store import open_engine, upgrade
    from pipeline.worker.scheduler import run_worker

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
    local_server = None
    if settings.delivery.backend == "local":
        from pipeline.devserver.server import LocalSendGridServer

        seeded = seed_demo_contacts(app.engine, demo_contacts, if_empty=True)
        if not seeded.skipped:
            click.echo(f"demo: {seeded.created} fictional clients added")
        app_address = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        options = {
            "demo": True,
            "webhook_url": f"http://{app_address}:{port}{WEBHOOK_PATH}",
            "seed": seed,
        }
        if sendgrid_port is not None:
            options["port"] = sendgrid_port
        local_server = LocalSendGridServer.from_settings(settings, **options).start()
        click.echo(f"demo: local SendGrid-compatible server on {local_server.url} (nothing leaves)")
    announce_first_owner(app)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker, args=(settings, stop), kwargs={"engine": app.engine}, name="worker"
    )
    server = _uvicorn_server(app, host, port)
    worker.start()
    click.echo(f"clinicmail is running: open http://{host}:{port}/ ; Ctrl-C stops")
    try:
        server.run()
    finally:
        stop.set()
        worker.join()
        if local_server is not None:
            local_server.stop()
        click.echo("stopped")


def register(group: click.Group) -> None:
    group.add_command(serve)
    group.add_command(run)
