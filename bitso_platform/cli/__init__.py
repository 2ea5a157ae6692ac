"""The `bitso` command: one group whose subcommands, defined per domain in this package, are
imported only when run, so that `bitso --help` and `bitso ask` do not pay for Dagster."""

from importlib import import_module

import click

from bitso_platform.cli.config import current_settings

# name: (module:attribute, its short help, which `bitso --help` lists without importing it;
# a test keeps each equal to the command's own)
COMMANDS = {
    "generate": (
        "generate:generate",
        "Write synthetic snapshot CSVs (users, deposits, withdrawals, events, user levels).",
    ),
    "load": (
        "snapshots:load",
        "Validate and load the snapshots into `raw`, then rebuild `core`, as one Dagster run.",
    ),
    "quality": (
        "snapshots:quality",
        "Print the per-file accounting of the last load of each snapshot.",
    ),
    "build": (
        "marts:build",
        "Build the marts for the days FROM..TO (inclusive) as ONE Dagster run.",
    ),
    "ask": (
        "ask:ask",
        "Answer a question, or list a segment, from the marts (build them with `bitso build`).",
    ),
    "ticker": (
        "ticker:ticker",
        "Order-book spread capture and alerts: the sampler, a replay exchange, alert passes.",
    ),
    "stop": (
        "stop:stop",
        "Stop the embedded Postgres server (the next command that needs it starts it again).",
    ),
    "access": (
        "access:access",
        "Warehouse access: one read-only role per team, `platform_writer` for the pipeline.",
    ),
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module when the subcommand is run or asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name][0].split(":")
        return getattr(import_module(f"{__name__}.{module}"), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # As click.Group lists them (a command's help cut to the width), from the help kept here.
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit))
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
def main() -> None:
    """bitso-platform: snapshot marts and order-book spread monitoring.

    Configuration comes from BITSO_* environment variables (see README); without any,
    everything runs on embedded defaults under ./.bitso. Every setting is checked before
    a command starts.
    """
    current_settings()
