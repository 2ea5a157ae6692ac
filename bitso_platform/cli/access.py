"""`bitso access`: the warehouse roles of the teams and the pipeline."""

import click
import psycopg

from bitso_platform.access import READERS, apply_access_roles
from bitso_platform.cli.warehouse import unreachable, warehouse_url


@click.group()
def access() -> None:
    """Warehouse access: one read-only role per team, `platform_writer` for the pipeline."""


@access.command()
def apply() -> None:
    """Create the roles if missing and (re-)grant each what it may read, idempotently.

    Roles (cluster-wide, login, no password: set one with `alter role ... password` or map
    them in pg_hba.conf): bi_reader, ml_reader, experimentation_reader and marketing_reader
    get SELECT on their team's marts in bitso_platform/access.py and nothing else;
    platform_writer reads and writes every pipeline schema. Readers' statements time out
    after 30 s (an operator's `alter role ... in database ... set statement_timeout` is kept)
    and only platform_writer may create temporary tables. Tables that do not exist yet are
    granted on a later apply; the `warehouse/access_roles` asset re-applies after every mart
    build and snapshot load. Acts on BITSO_WAREHOUSE_URL (default: the embedded server).
    """
    try:
        with psycopg.connect(warehouse_url()) as conn:
            granted = apply_access_roles(conn)
    except (psycopg.OperationalError, psycopg.ProgrammingError) as exc:  # down, or a bad URL
        raise unreachable(exc) from exc
    for role, tables in granted.items():
        pending = sorted(set(READERS.get(role, ())) - set(tables))
        line = f"{role}: {', '.join(tables) or '-'}"
        click.echo(line + (f" (not yet created: {', '.join(pending)})" if pending else ""))
