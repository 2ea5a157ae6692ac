"""`bitso generate`: synthetic snapshots in the SPEC 2 input format."""

from pathlib import Path

import click

from bitso_platform.cli import render

SUMMARY_COLUMNS = ("rows_read", "clean", "quarantined", "exact_duplicates", "blank")


def _positive(ctx: click.Context, param: click.Parameter, value: float) -> float:
    if not value > 0:
        raise click.BadParameter("must be greater than 0")
    return value


@click.command()
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the five snapshot CSVs and manifest.json into (created if needed).",
)
@click.option(
    "--scale",
    default=1.0,
    show_default=True,
    type=float,
    callback=_positive,
    help="Size relative to the original challenge (1 = 25,699 users, ~120k deposits, "
    "~5.1k withdrawals, ~500k events); fractions such as 0.01 work.",
)
@click.option(
    "--seed", default=0, show_default=True, type=int, help="Random seed; same inputs, same bytes."
)
@click.option(
    "--defects",
    is_flag=True,
    help="Inject every SPEC 2 bad-row kind (and rows that need normalising), "
    "and write with a UTF-8 BOM and CRLF line ends.",
)
def generate(out: Path, scale: float, seed: int, defects: bool) -> None:
    """Write synthetic snapshot CSVs (users, deposits, withdrawals, events, user levels).

    Files carry the original challenge's names and headers. OUT/manifest.json records,
    per snapshot, the accounting a correct loader must report: rows_read, clean,
    quarantined (reason -> count), exact_duplicates and blank. Progress goes to stderr,
    the summary to stdout.
    """
    from bitso_platform.devtools.generate import generate_snapshots

    def progress(name: str, file: str, rows: int, seconds: float) -> None:
        click.echo(f"wrote {file}: {rows:,} rows in {seconds:.1f}s", err=True)

    click.echo(f"generating snapshots into {out} (scale {scale:g}, seed {seed}) ...", err=True)
    manifest = generate_snapshots(out, scale=scale, seed=seed, defects=defects, progress=progress)
    click.echo(_summary(manifest))
    click.echo(f"manifest: {out / 'manifest.json'}")


def _summary(manifest: dict) -> str:
    """A plain text table of the manifest's per-file accounting."""
    rows = []
    for name, entry in manifest.items():
        quarantined = sum(entry["quarantined"].values())
        counts = [entry[c] if c != "quarantined" else quarantined for c in SUMMARY_COLUMNS]
        rows.append((name, entry["file"], *counts))
    return render.table(rows, header=("snapshot", "file", *SUMMARY_COLUMNS))
