"""Progress of a long step, as run log lines that `bitso` shows while it follows the run.

A step logs `progress_message(subject, text)` through `context.log` (so the run's event log
in the Dagster UI has it too); the CLI recognises such lines with `parse_progress`, whether
it executes the run in-process or follows it on a deployment.
"""

MARK = "progress "


def progress_message(subject: str, text: str) -> str:
    """The run log line for `subject`'s latest progress."""
    return f"{MARK}{subject}: {text}"


def parse_progress(message: str) -> tuple[str, str] | None:
    """(subject, line to show) of a progress log line; None for any other message."""
    if not message.startswith(MARK):
        return None
    line = message.removeprefix(MARK)
    subject, separator, _ = line.partition(": ")
    return (subject, line) if separator else None


def rows_progress(rows: int, seconds: float) -> str:
    """`rows` read in `seconds`, with their rate."""
    rate = f"{rows / seconds:,.0f}" if seconds > 0 else "-"
    return f"{rows:,} rows read, {rate} rows/s"
