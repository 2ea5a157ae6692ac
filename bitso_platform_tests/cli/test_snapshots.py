"""`bitso load` and `bitso quality`, run as a user runs them."""

import json
import os
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bitso_platform.cli import main
from bitso_platform.devtools.generate import generate_snapshots
from bitso_platform.snapshots import staging
from bitso_platform.snapshots.spec import SNAPSHOTS


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, warehouse_url: str, tmp_path: Path) -> Path:
    monkeypatch.setenv("BITSO_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    return tmp_path


def test_quality_before_any_load_says_what_to_do(cli_env: Path) -> None:
    result = CliRunner().invoke(main, ["quality"])
    assert result.exit_code == 1
    assert "run `bitso load` first" in result.output


def test_load_prints_the_accounting_and_quality_repeats_it_as_json(cli_env: Path) -> None:
    snapshots = cli_env / "drop"
    manifest = generate_snapshots(snapshots, scale=0.01, seed=3, defects=True)

    configured = os.environ.get("BITSO_SNAPSHOTS_URL")
    loaded = CliRunner().invoke(main, ["load", "--snapshots", str(snapshots)])
    assert loaded.exit_code == 0, loaded.output
    assert f"loading snapshots from {snapshots}" in loaded.output
    assert os.environ.get("BITSO_SNAPSHOTS_URL") == configured  # an argument, not a variable
    assert "snapshot" in loaded.output and "rows_read" in loaded.output

    quality = CliRunner().invoke(main, ["quality", "--format", "json"])
    assert quality.exit_code == 0, quality.output
    report = json.loads(quality.output)
    assert list(report) == ["users", "deposits", "withdrawals", "events", "user_levels"]
    for name, expected in manifest.items():
        got = {k: v for k, v in report[name].items() if k not in ("source", "loaded_at")}
        assert got == {k: v for k, v in expected.items() if k != "file"}


def test_a_failed_load_exits_non_zero_and_names_the_file(cli_env: Path) -> None:
    snapshots = cli_env / "drop"
    generate_snapshots(snapshots, scale=0.01, seed=3)
    (snapshots / "event_sample_data.csv").write_text("wrong,header\n")
    result = CliRunner().invoke(main, ["load", "--snapshots", str(snapshots)])
    assert result.exit_code == 1
    assert "event_sample_data.csv: wrong header" in result.output


def test_every_command_explains_itself(cli_env: Path) -> None:
    for command in (["--help"], ["load", "--help"], ["quality", "--help"], ["generate", "--help"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 0 and "Usage:" in result.output


def test_load_help_promises_one_generation_and_names_the_shrink_flag(cli_env: Path) -> None:
    result = CliRunner().invoke(main, ["load", "--help"])
    text = " ".join(result.output.split())
    assert "A load is one generation" in text
    assert "leave the previous load exactly as it was" in text
    assert "--allow-shrink" in text and "another load is running" in text


def test_a_header_only_file_is_refused_until_allow_shrink_is_given(cli_env: Path) -> None:
    snapshots = cli_env / "drop"
    generate_snapshots(snapshots, scale=0.01, seed=3)
    assert CliRunner().invoke(main, ["load", "--snapshots", str(snapshots)]).exit_code == 0
    (snapshots / "deposit_sample_data.csv").write_text(
        "id,event_timestamp,user_id,amount,currency,tx_status\n"
    )

    refused = CliRunner().invoke(main, ["load", "--snapshots", str(snapshots)])
    assert refused.exit_code == 1
    assert "deposit_sample_data.csv: refused: the file has no data rows" in refused.output
    assert "the previous load is intact" in refused.output

    accepted = CliRunner().invoke(main, ["load", "--snapshots", str(snapshots), "--allow-shrink"])
    assert accepted.exit_code == 0, accepted.output
    report = json.loads(CliRunner().invoke(main, ["quality", "--format", "json"]).output)
    assert report["deposits"]["rows_read"] == 0


def test_load_shows_rows_read_and_rows_per_second_per_file_as_plain_lines(cli_env: Path) -> None:
    snapshots = cli_env / "drop"
    generate_snapshots(snapshots, scale=0.01, seed=3)

    loaded = CliRunner().invoke(main, ["load", "--snapshots", str(snapshots)])

    assert loaded.exit_code == 0, loaded.output
    last_line = {
        line.split(":")[0]: line for line in loaded.stderr.splitlines() if "rows/s" in line
    }
    for snapshot in SNAPSHOTS.values():
        rows = sum(1 for _ in (snapshots / snapshot.file).open()) - 1
        expected = rf"{re.escape(snapshot.file)}: {rows:,} rows read, [\d,]+ rows/s"
        assert re.fullmatch(expected, last_line[snapshot.file])
    assert "\r" not in loaded.stderr  # plain lines: stderr is not a terminal


def test_load_progress_is_a_line_a_second_not_a_line_a_block(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshots = cli_env / "drop"
    generate_snapshots(snapshots, scale=0.01, seed=3)
    events = SNAPSHOTS["events"].file
    blocks = (snapshots / events).stat().st_size // 4096
    monkeypatch.setattr(staging, "CHUNK_BYTES", 4096)

    started = time.perf_counter()
    loaded = CliRunner().invoke(main, ["load", "--snapshots", str(snapshots)])
    seconds = time.perf_counter() - started

    assert loaded.exit_code == 0, loaded.output
    lines = [line for line in loaded.stderr.splitlines() if line.startswith(f"{events}: ")]
    assert blocks > 50
    assert 1 <= len(lines) <= seconds + 1, lines  # the last one gives the file's total
