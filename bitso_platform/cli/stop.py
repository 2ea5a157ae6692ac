"""`bitso stop`: stop the embedded Postgres server."""

import click

from bitso_platform.embedded_postgres import default_folder, stop_embedded


@click.command()
def stop() -> None:
    """Stop the embedded Postgres server (the next command that needs it starts it again).

    Stop `make dev` first: its processes keep sessions on the server.
    """
    folder = default_folder()
    if stop_embedded(folder):
        click.echo(f"stopped the embedded Postgres server in {folder}")
    else:
        click.echo(f"no embedded Postgres server is running in {folder}")
