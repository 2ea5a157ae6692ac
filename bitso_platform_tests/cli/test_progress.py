"""Progress of long commands: an updating line on a terminal, plain lines otherwise."""

import os
import pty
import select
import sys
import tty
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bitso_platform.cli.progress import CLEAR_LINE, progress_on_stderr


@contextmanager
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """stderr on a pseudo-terminal (raw: no newline translation); yields the reading end.
    (Entered in the test itself: pytest sets its own sys.stderr after fixtures are set up.)"""
    reader, writer = pty.openpty()
    tty.setraw(writer)
    with os.fdopen(writer, "w") as stderr:
        monkeypatch.setattr(sys, "stderr", stderr)
        yield reader
    os.close(reader)


def _read_all(reader: int) -> str:
    """Everything written to the terminal: a pseudo-terminal may hand it over in several
    reads, so read until nothing more comes for half a second."""
    assert select.select([reader], [], [], 5)[0], "nothing written to the terminal"
    chunks = []
    while select.select([reader], [], [], 0.5)[0]:
        chunks.append(os.read(reader, 4096))
    return b"".join(chunks).decode()


def _show_a_load() -> None:
    with progress_on_stderr() as progress:
        progress.update("users.csv", "users.csv: 10 rows read")
        progress.update("users.csv", "users.csv: 20 rows read")
        progress.echo("  materialized raw/users")
        progress.update("events.csv", "events.csv: 5 rows read")


def test_on_a_terminal_each_subject_has_one_updating_line_and_lasting_lines_go_above(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with terminal(monkeypatch) as reader:
        _show_a_load()
        sys.stderr.flush()
        written = _read_all(reader)

    assert written == (
        f"{CLEAR_LINE}users.csv: 10 rows read"
        f"{CLEAR_LINE}users.csv: 20 rows read"
        f"{CLEAR_LINE}  materialized raw/users\nusers.csv: 20 rows read"
        f"\n{CLEAR_LINE}events.csv: 5 rows read\n"
    )


def test_elsewhere_every_update_is_a_plain_line(capsys: pytest.CaptureFixture[str]) -> None:
    _show_a_load()

    assert capsys.readouterr().err == (
        "users.csv: 10 rows read\nusers.csv: 20 rows read\n"
        "  materialized raw/users\nevents.csv: 5 rows read\n"
    )
