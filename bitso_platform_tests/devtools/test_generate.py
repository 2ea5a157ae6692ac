"""Tests for `bitso generate`: file format, determinism, shape and the defect manifest.

The manifest is checked against a small, independent reading of the SPEC 2 rules
(`reference_accounting` below), so a generator whose bookkeeping drifts from what it
actually wrote fails here rather than in the loader's tests.
"""

import csv
import json
import re
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

from bitso_platform.cli import main
from bitso_platform.devtools.generate import SNAPSHOTS, generate_snapshots

REASONS = {
    "users": {"malformed_row", "missing_field", "bad_user_id", "conflicting_duplicate_id"},
    "deposits": {
        "malformed_row",
        "missing_field",
        "bad_id",
        "bad_timestamp",
        "bad_amount",
        "non_positive_amount",
        "bad_currency",
        "quarantined_user",
        "unknown_user",
        "conflicting_duplicate_id",
    },
    "events": {
        "malformed_row",
        "missing_field",
        "bad_id",
        "bad_timestamp",
        "quarantined_user",
        "unknown_user",
        "conflicting_duplicate_id",
    },
    "user_levels": {
        "malformed_row",
        "missing_field",
        "bad_timestamp",
        "quarantined_user",
        "unknown_user",
    },
}
REASONS["withdrawals"] = REASONS["deposits"]

TIMESTAMP = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}(?::?\d{2})?)"
)
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
WHITESPACE = " \t\x0b\x0c\r"


@pytest.fixture(scope="module")
def scale_one(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("scale_one")
    return out, generate_snapshots(out, scale=1, seed=3)


@pytest.fixture(scope="module")
def with_defects(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("defects")
    return out, generate_snapshots(out, scale=0.02, seed=5, defects=True)


@pytest.fixture(scope="module")
def frames(scale_one: tuple[Path, dict]) -> dict[str, pd.DataFrame]:
    """The scale-1 files as string data frames, read once."""
    out, _ = scale_one
    return {name: read(out, name) for name in SNAPSHOTS}


def read(out: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(out / SNAPSHOTS[name][0], dtype=str, engine="pyarrow")


# --- an independent reading of SPEC 2 -----------------------------------------------


def physical_lines(path: Path) -> list[str]:
    text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def valid_timestamp(value: str) -> bool:
    match = TIMESTAMP.fullmatch(value)
    if not match:
        return False
    try:
        datetime(*(int(part) for part in match.groups()[:6]), tzinfo=UTC)
    except ValueError:
        return False
    return True


def positive(value: str) -> bool | None:
    """None when not a number below 1e20 in absolute value, else whether it is > 0."""
    if not NUMBER.fullmatch(value):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return None if abs(number) >= Decimal("1e20") else number > 0


def reason(
    row: dict[str, str], name: str, users: set[str], quarantined_users: set[str]
) -> str | None:
    if any(value == "" for value in row.values()):
        return "missing_field"
    if "id" in row and not re.fullmatch(r"\+?\d+", row["id"]):
        return "bad_id"
    if name == "users" and not re.fullmatch(r"[0-9a-fA-F]{32}", row["user_id"]):
        return "bad_user_id"
    if "event_timestamp" in row and not valid_timestamp(row["event_timestamp"]):
        return "bad_timestamp"
    if "amount" in row:
        sign = positive(row["amount"])
        if sign is None:
            return "bad_amount"
        if not sign:
            return "non_positive_amount"
    if "currency" in row and not re.fullmatch("[a-z0-9]{2,12}", row["currency"].lower()):
        return "bad_currency"
    if name != "users" and row["user_id"] not in users:
        return "quarantined_user" if row["user_id"] in quarantined_users else "unknown_user"
    return None


def reference_accounting(
    out: Path, name: str, users: set[str], quarantined_users: set[str]
) -> tuple[dict, set[str], set[str]]:
    """SPEC 2 accounting of one file; then, from the users file, its clean user ids and the
    trimmed ids of its quarantined one-field rows (else the ones given)."""
    file, columns = SNAPSHOTS[name]
    header, *body = physical_lines(out / file)
    assert tuple(c.strip() for c in header.split(",")) == columns
    counts: Counter[str] = Counter()
    seen: set[tuple[str, ...]] = set()
    passed: list[dict[str, str]] = []
    rejected: list[list[str]] = []
    for line in body:
        if not line.strip():
            counts["blank"] += 1
            continue
        try:
            fields = next(csv.reader([line]))
        except csv.Error:  # a carriage return inside the line: malformed below
            fields = line.split(",")
        if tuple(fields) in seen:
            counts["exact_duplicates"] += 1
            continue
        seen.add(tuple(fields))
        if len(fields) != len(columns) or CONTROL.search(line):
            counts["malformed_row"] += 1
            rejected.append(fields)
            continue
        row = {c: v.strip(WHITESPACE) for c, v in zip(columns, fields, strict=True)}
        why = reason(row, name, users, quarantined_users)
        if why:
            counts[why] += 1
            rejected.append(fields)
        else:
            passed.append(row)
    key = "id" if "id" in columns else "user_id" if name == "users" else None
    per_id = Counter(row[key] for row in passed) if key else Counter()
    clean = [row for row in passed if not key or per_id[row[key]] == 1]
    counts["conflicting_duplicate_id"] += len(passed) - len(clean)
    special = ("blank", "exact_duplicates")
    accounting = {
        "file": file,
        "rows_read": len(body),
        "clean": len(clean),
        "quarantined": {k: v for k, v in sorted(counts.items()) if k not in special and v},
        "exact_duplicates": counts["exact_duplicates"],
        "blank": counts["blank"],
    }
    if name != "users":
        return accounting, users, quarantined_users
    conflicting = [row["user_id"] for row in passed if per_id[row["user_id"]] > 1]
    rejected_ids = [fields[0].strip(WHITESPACE) for fields in rejected if len(fields) == 1]
    return accounting, {row["user_id"] for row in clean}, {*rejected_ids, *conflicting}


def reference_manifest(out: Path) -> dict:
    manifest: dict = {}
    users: set[str] = set()
    quarantined: set[str] = set()
    for name in SNAPSHOTS:
        manifest[name], users, quarantined = reference_accounting(out, name, users, quarantined)
    return manifest


# --- format -------------------------------------------------------------------------


def test_files_have_the_challenge_names_and_exact_headers(scale_one):
    out, manifest = scale_one
    expected = {
        "user_id_sample_data.csv": "user_id",
        "deposit_sample_data.csv": "id,event_timestamp,user_id,amount,currency,tx_status",
        "withdrawals_sample_data.csv": (
            "id,event_timestamp,user_id,amount,interface,currency,tx_status"
        ),
        "event_sample_data.csv": "id,event_timestamp,user_id,event_name",
        "user_level_sample_data.csv": "user_id,jurisdiction,level,event_timestamp",
    }
    assert {p.name for p in out.iterdir()} == {*expected, "manifest.json"}
    for file, header in expected.items():
        with (out / file).open("rb") as handle:
            assert handle.readline() == header.encode() + b"\n"
    assert {entry["file"] for entry in manifest.values()} == set(expected)


def test_users_file_has_a_blank_line_right_after_the_header_and_it_is_counted(scale_one):
    out, manifest = scale_one
    assert physical_lines(out / "user_id_sample_data.csv")[:2] == ["user_id", ""]
    assert manifest["users"]["blank"] == 1
    assert manifest["users"]["rows_read"] == manifest["users"]["clean"] + 1


def test_clean_files_have_no_bom_no_crlf_and_a_final_newline(scale_one):
    out, _ = scale_one
    for file, _ in SNAPSHOTS.values():
        data = (out / file).read_bytes()
        assert not data.startswith(b"\xef\xbb\xbf")
        assert b"\r" not in data
        assert data.endswith(b"\n") and not data.endswith(b"\n\n")


def test_clean_manifest_matches_an_independent_reading_of_the_files(tmp_path):
    manifest = generate_snapshots(tmp_path, scale=0.05, seed=8)
    assert reference_manifest(tmp_path) == manifest
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    for name, entry in manifest.items():
        assert entry["quarantined"] == {}, name
        assert entry["exact_duplicates"] == 0, name


def test_timestamps_look_like_the_real_samples_and_stay_in_range(frames):
    stamps = pa.chunked_array(
        [pa.array(frames[n].event_timestamp) for n in SNAPSHOTS if n != "users"]
    )
    shape = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?\+00$"
    assert pc.all(pc.match_substring_regex(stamps, shape)).as_py()
    fraction_digits = pc.subtract(pc.utf8_length(stamps), 22)
    assert set(pc.unique(fraction_digits).to_pylist()) == {0, 2, 3, 4, 5, 6, 7}  # with the dot
    days = pc.utf8_slice_codeunits(stamps, 0, 10)
    assert pc.min(days).as_py() >= "2020-01-01" and pc.max(days).as_py() <= "2023-08-23"


def test_ids_are_unique_integers_and_user_ids_are_32_lowercase_hex(frames):
    users = frames["users"].user_id
    assert users.str.fullmatch(r"[0-9a-f]{32}").all() and users.is_unique
    for name in ("deposits", "withdrawals", "events"):
        frame = frames[name]
        assert frame.id.str.fullmatch(r"\d+").all() and frame.id.is_unique, name
        assert frame.user_id.isin(users).all(), name
    amounts = frames["deposits"].amount
    assert amounts.str.fullmatch(r"\d+\.\d{18}").all()


# --- determinism and scale ----------------------------------------------------------


def test_same_seed_scale_and_defects_give_byte_identical_files(tmp_path):
    first = generate_snapshots(tmp_path / "a", scale=0.01, seed=7, defects=True)
    second = generate_snapshots(tmp_path / "b", scale=0.01, seed=7, defects=True)
    assert first == second
    for file in [*(f for f, _ in SNAPSHOTS.values()), "manifest.json"]:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


def test_another_seed_gives_other_data(tmp_path):
    generate_snapshots(tmp_path / "a", scale=0.01, seed=1)
    generate_snapshots(tmp_path / "b", scale=0.01, seed=2)
    file = SNAPSHOTS["deposits"][0]
    assert (tmp_path / "a" / file).read_bytes() != (tmp_path / "b" / file).read_bytes()


def test_row_counts_are_proportional_to_a_fractional_scale(tmp_path, scale_one):
    _, full = scale_one
    small = generate_snapshots(tmp_path, scale=0.05)
    assert full["users"]["clean"] == 25_699
    assert full["deposits"]["clean"] == 120_000
    assert full["withdrawals"]["clean"] == 5_100
    assert full["events"]["clean"] == 500_000
    for name in ("users", "deposits", "withdrawals", "events"):
        assert small[name]["clean"] == round(full[name]["clean"] * 0.05), name


# --- shape --------------------------------------------------------------------------


def test_about_a_third_of_transactions_failed_and_the_rest_complete(frames):
    for name in ("deposits", "withdrawals"):
        status = frames[name].tx_status
        assert set(status) == {"complete", "failed"}
        assert 0.28 < (status == "failed").mean() < 0.40, name


def test_many_currencies_with_mxn_dominant_and_three_interfaces(frames):
    deposits, withdrawals = frames["deposits"], frames["withdrawals"]
    assert deposits.currency.nunique() >= 20 and withdrawals.currency.nunique() >= 20
    assert deposits.currency.value_counts().index[0] == "mxn"
    assert set(withdrawals.interface) == {"app", "web", "api"}


def test_burst_days_are_far_above_the_median_day(frames):
    deposits = frames["deposits"]
    depositors = deposits.groupby(deposits.event_timestamp.str[:10]).user_id.nunique()
    median = depositors.median()
    assert 10 <= median < 100  # tens of depositors on a typical day
    assert depositors["2021-02-19"] > 30 * median
    assert depositors["2021-02-19"] > deposits.user_id.nunique() / 4
    assert depositors["2022-05-20"] > 20 * median
    per_year = deposits.event_timestamp.str[:4].value_counts()
    assert per_year["2022"] > per_year["2020"]  # activity grows


def test_some_users_never_deposit_never_log_in_or_do_nothing(frames):
    users = set(frames["users"].user_id)
    deposits, withdrawals, events = (frames[n] for n in ("deposits", "withdrawals", "events"))
    depositors = set(deposits.user_id)
    logins = set(events.user_id[events.event_name == "login"])
    active = depositors | set(withdrawals.user_id) | set(events.user_id)
    assert 0.35 < 1 - len(depositors) / len(users) < 0.55
    assert 0.12 < 1 - len(logins) / len(users) < 0.28
    assert len(users - active) > 100
    names = events.event_name.value_counts()
    assert names.index[0] == "login"
    assert {"2falogin", "password_reset"} <= set(names.index) and len(names) >= 4


def test_user_levels_change_a_few_times_out_of_order(frames):
    levels, users = frames["user_levels"], frames["users"].user_id
    assert set(levels.level) <= {"0", "1", "2", "3"}
    assert set(levels.jurisdiction) == {"mx", "ar", "br", "co", "us"}
    per_user = levels.groupby("user_id").size()
    assert per_user.min() >= 1 and per_user.max() == 4
    assert (~users.isin(levels.user_id)).any()
    same_day = levels.groupby([levels.user_id, levels.event_timestamp.str[:10]]).size()
    assert (same_day > 1).sum() > 5
    assert not levels.event_timestamp.is_monotonic_increasing
    assert not levels.duplicated(["user_id", "event_timestamp"]).any()


# --- defects ------------------------------------------------------------------------


def test_defect_files_start_with_a_bom_and_use_crlf_only(with_defects):
    out, _ = with_defects
    for file, _ in SNAPSHOTS.values():
        data = (out / file).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf"), file
        assert data.count(b"\n") == data.count(b"\r\n"), file
        assert data.endswith(b"\r\n"), file


def test_defect_manifest_adds_up_and_has_every_reason_kind(with_defects):
    _, manifest = with_defects
    for name, entry in manifest.items():
        quarantined = sum(entry["quarantined"].values())
        total = entry["clean"] + quarantined + entry["exact_duplicates"] + entry["blank"]
        assert entry["rows_read"] == total, name
        assert set(entry["quarantined"]) == REASONS[name], name
        assert all(count >= 2 for count in entry["quarantined"].values()), name
        assert entry["exact_duplicates"] >= 4 and entry["blank"] >= 4, name


def test_defect_manifest_matches_an_independent_reading_of_the_files(with_defects):
    out, manifest = with_defects
    assert reference_manifest(out) == manifest


def test_defect_files_contain_clean_rows_that_need_normalising(with_defects):
    out, _ = with_defects
    deposits = "\n".join(physical_lines(out / SNAPSHOTS["deposits"][0]))
    for needle in (", MXN,", ",USD,", ",COMPLETE", "-06,", "+05:30,", '"btc"', ",6.8e12,"):
        assert needle in deposits, needle
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z,", deposits)
    users = physical_lines(out / SNAPSHOTS["users"][0])
    assert '""' in users
    assert any(re.fullmatch(r'"[0-9a-f]{32}"', line) for line in users)


def test_defects_keep_the_clean_rows_of_the_same_seed_in_order(tmp_path):
    generate_snapshots(tmp_path / "clean", scale=0.01, seed=4)
    generate_snapshots(tmp_path / "dirty", scale=0.01, seed=4, defects=True)
    for name in ("deposits", "withdrawals", "events", "user_levels"):
        file = SNAPSHOTS[name][0]
        clean = physical_lines(tmp_path / "clean" / file)
        dirty = iter(physical_lines(tmp_path / "dirty" / file))
        assert all(line in dirty for line in clean), name  # a subsequence


# --- command line -------------------------------------------------------------------


def test_cli_writes_files_prints_progress_and_a_summary(tmp_path):
    result = CliRunner().invoke(
        main, ["generate", "--out", str(tmp_path), "--scale", "0.01", "--seed", "2", "--defects"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest == generate_snapshots(tmp_path / "api", scale=0.01, seed=2, defects=True)
    assert "wrote deposit_sample_data.csv" in result.stderr
    assert "rows_read" in result.stdout and "user_level_sample_data.csv" in result.stdout
    assert f"{manifest['events']['rows_read']:,}" in result.stdout


def test_cli_help_lists_every_option():
    result = CliRunner().invoke(main, ["generate", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--scale", "--seed", "--defects"):
        assert option in result.output


@pytest.mark.parametrize("scale", ["0", "-1", "abc"])
def test_cli_rejects_a_scale_that_is_not_a_positive_number(tmp_path, scale):
    result = CliRunner().invoke(main, ["generate", "--out", str(tmp_path), "--scale", scale])
    assert result.exit_code == 2
    assert not (tmp_path / "manifest.json").exists()


def test_reference_reading_would_notice_a_wrong_count(with_defects, tmp_path):
    """Guards the guard: one more blank line changes the independent accounting."""
    out, manifest = with_defects
    copy = tmp_path / "copy"
    copy.mkdir()
    for file, _ in SNAPSHOTS.values():
        (copy / file).write_bytes((out / file).read_bytes())
    events = copy / SNAPSHOTS["events"][0]
    events.write_bytes(events.read_bytes() + b"  \r\n")
    assert reference_manifest(copy)["events"]["blank"] == manifest["events"]["blank"] + 1
