"""`clinicmail serve`: the web app alone, under uvicorn."""

from __future__ import annotations

import click

from pipeline.cli.base import AppContext, pass_app


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@pass_app
def serve(app: AppContext, host: str, port: int) -> None:
    """Run the web app (staff pages, API, public pages, webhook) until interrupted. It does not
    run the scheduler or send mail: `clinicmail run` does everything.

    Example:

        clinicmail serve --host 0.0.0.0 --port 8080
    """
    import uvicorn

    from pipeline.web.app import create_app

    click.echo(f"clinicmail web app on http://{host}:{port}/ (sign in at /login)")
    uvicorn.run(create_app(app.settings, app.engine), host=host, port=port, log_level="warning")


def register(group: click.Group) -> None:
    group.add_command(serve)
