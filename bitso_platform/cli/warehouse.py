"""The warehouse as commands that talk to it directly (without a Dagster run) reach it."""

import click
import psycopg

from bitso_platform.cli.config import current_settings
from bitso_platform.embedded_postgres import resolved_url
from bitso_platform.redaction import scrub


def warehouse_url() -> str:
    """BITSO_WAREHOUSE_URL, or the embedded server's URL (started on demand)."""
    return resolved_url(current_settings().warehouse_url)


def unreachable(exc: psycopg.Error) -> click.ClickException:
    """The error to show when the warehouse does not answer (or its URL does not parse), with
    what to check and without the URL's password, which libpq quotes in some messages."""
    reason = scrub(str(exc).strip(), current_settings().warehouse_url)
    return click.ClickException(
        f"cannot reach the warehouse: {reason}; check that Postgres is up and "
        "BITSO_WAREHOUSE_URL is right"
    )
