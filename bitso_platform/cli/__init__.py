"""The `bitso` command: one group, subcommands defined per domain in this package."""

import click

from bitso_platform.cli.access import access
from bitso_platform.cli.ask import ask
from bitso_platform.cli.config import current_settings
from bitso_platform.cli.generate import generate
from bitso_platform.cli.marts import build
from bitso_platform.cli.snapshots import load, quality
from bitso_platform.cli.ticker import ticker


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def main() -> None:
    """bitso-platform: snapshot marts and order-book spread monitoring.

    Configuration comes from BITSO_* environment variables (see README); without any,
    everything runs on embedded defaults under ./.bitso. Every setting is checked before
    a command starts.
    """
    current_settings()


main.add_command(generate)
main.add_command(load)
main.add_command(quality)
main.add_command(build)
main.add_command(ask)
main.add_command(ticker)
main.add_command(access)
