"""The warehouse as commands that talk to it directly (without a Dagster run) reach it."""

import click
import psycopg

from bitso_platform.cli.config import current_settings


def warehouse_url() -> str:
    """BITSO_WAREHOUSE_URL, or the embedded server's URL (started on demand)."""
    from bitso_platform.resources.warehouse import Warehouse  # lazily: it imports Dagster

    return Warehouse(url=current_settings().warehouse_url).resolved_url()


def unreachable(exc: psycopg.OperationalError) -> click.ClickException:
    """The error to show when the warehouse does not answer, with what to check."""
    return click.ClickException(
        f"cannot reach the warehouse: {str(exc).strip()}; check that Postgres is up and "
        "BITSO_WAREHOUSE_URL is right"
    )
