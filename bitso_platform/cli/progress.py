"""Progress of long commands on stderr: on a terminal one updating line per subject (a
file, the marts, the feed), otherwise one plain line per update (CI, logs)."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from bitso_platform.progress import parse_progress

if TYPE_CHECKING:  # commands without a run (ticker replay) do not import Dagster
    import dagster as dg

CLEAR_LINE = "\r\x1b[2K"


class Progress:
    """Progress lines, and the lines that stay, written to stderr without mixing them."""

    def __init__(self) -> None:
        self.live = sys.stderr.isatty()
        self._subject: str | None = None  # whose line is showing, not yet ended (terminal)
        self._line = ""

    def update(self, subject: str, line: str) -> None:
        """Show `line` as the latest progress of `subject`."""
        if not self.live:
            click.echo(line, err=True)
            return
        if self._subject not in (None, subject):
            click.echo(err=True)
        click.echo(f"{CLEAR_LINE}{line}", err=True, nl=False)
        self._subject, self._line = subject, line

    def echo(self, line: str) -> None:
        """A line that stays; on a terminal the updating line, if any, stays below it."""
        if self._subject is None:
            click.echo(line, err=True)
        else:
            click.echo(f"{CLEAR_LINE}{line}\n{self._line}", err=True, nl=False)

    def close(self) -> None:
        """End the updating line, keeping its last state on screen."""
        if self._subject is not None:
            click.echo(err=True)
            self._subject = None

    def event(self, entry: "dg.EventLogEntry") -> None:
        """Show a run's progress log lines (`bitso_platform.progress`) as they arrive."""
        if entry.dagster_event is None:
            parsed = parse_progress(entry.user_message)
            if parsed:
                self.update(*parsed)


@contextmanager
def progress_on_stderr(shown: Progress | None = None) -> Iterator[Progress]:
    """`shown` (a new Progress by default), its updating line ended however the block ends."""
    shown = shown or Progress()
    try:
        yield shown
    finally:
        shown.close()
