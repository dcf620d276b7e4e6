"""Development commands: the local SendGrid-compatible server."""

from __future__ import annotations

import gc
import signal
import threading

import click

from pipeline.cli.base import AppContext, pass_app
from pipeline.config import LOCAL_PUBLIC_KEY_FILE, LOCAL_SERVER_PORT, WEBHOOK_PATH
from pipeline.delivery.allocator import keep_freed_memory


@click.group()
def dev() -> None:
    """Tools for trying clinicmail out on one machine.

    Example:

        clinicmail dev sendgrid-server --demo
    """


@dev.command("sendgrid-server")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=LOCAL_SERVER_PORT,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--webhook-url",
    help=f"Where to post Event Webhook batches. Default: [web] public_url + {WEBHOOK_PATH}.",
)
@click.option("--no-webhook", is_flag=True, help="Post no events at all.")
@click.option(
    "--demo",
    is_flag=True,
    help="Also simulate opens, clicks, bounces, unsubscribes and spam reports (marked simulated).",
)
@click.option(
    "--benchmark",
    is_flag=True,
    help="Skip validation, keep nothing but counts and post no events (for load tests).",
)
@click.option("--seed", type=int, help="Seed for --demo's simulation, for repeatable runs.")
@pass_app
def sendgrid_server(
    app: AppContext,
    host: str,
    port: int,
    webhook_url: str | None,
    no_webhook: bool,
    demo: bool,
    benchmark: bool,
    seed: int | None,
) -> None:
    """Run a SendGrid-compatible server on this machine until Ctrl-C.

    It accepts POST /v3/mail/send (bearer auth, the request validated against SendGrid's
    schema), answers 202 with X-Message-Id, keeps each accepted email under
    var/local-sendgrid/ for the web app, and posts signed processed and delivered events to the
    app's webhook. The `local` delivery backend finds it on its own. Its webhook signing key's
    public half is in var/local-sendgrid/webhook_public_key.

    Example:

        clinicmail dev sendgrid-server --port 3025 --demo
    """
    settings = app.settings
    options: dict = {"host": host, "port": port, "demo": demo, "benchmark": benchmark, "seed": seed}
    if no_webhook:
        options["webhook_url"] = None
    elif webhook_url:
        options["webhook_url"] = webhook_url
    # A process of its own reading one 1 MB request after another.
    keep_freed_memory()
    # The development server is imported by its command only: no other command loads it.
    from pipeline.devserver.server import LocalSendGridServer

    server = LocalSendGridServer.from_settings(settings, **options).start()
    # What the process holds once started lives as long as it does: out of the collector's
    # passes. Each request's parsed body survives young collections while it is being built, and
    # those promotions set off a full pass over the whole process every few requests.
    gc.collect()
    gc.freeze()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    click.echo(f"local SendGrid server on {server.url}/v3/mail/send")
    click.echo(
        f"events to {server.webhook_url or 'nowhere'}"
        + (" (with simulated engagement)" if demo and server.webhook_url else "")
    )
    click.echo(
        f"webhook public key in {settings.local_sendgrid_dir / LOCAL_PUBLIC_KEY_FILE}; Ctrl-C stops"
    )
    try:
        stopping.wait()
    except KeyboardInterrupt:
        click.echo("stopping: posting the events still queued")
    finally:
        server.stop()
        click.echo("stopped")


def register(group: click.Group) -> None:
    group.add_command(dev)
