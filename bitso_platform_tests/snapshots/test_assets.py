"""The snapshot and core assets, run through Dagster against real Postgres and S3."""

import io
import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from types import SimpleNamespace

import boto3
import dagster as dg
import psycopg
import pyarrow as pa
import pytest

from bitso_platform.cli.snapshots import load_run_config
from bitso_platform.definitions import defs
from bitso_platform.devtools.generate import generate_snapshots
from bitso_platform.resources.load_transaction import LoadTransaction
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.snapshots.loader import load_snapshot
from bitso_platform.snapshots.spec import SNAPSHOTS, Kind
from bitso_platform.snapshots.validation import Users
from bitso_platform_tests.conftest import REAL_SNAPSHOTS

TABLES = (
    "raw.users",
    "raw.deposits",
    "raw.withdrawals",
    "raw.events",
    "raw.user_levels",
    "raw.quarantine",
    "core.users",
    "core.transactions",
    "core.logins",
    "core.currencies",
    "core.user_levels",
)


def run_load(
    monkeypatch: pytest.MonkeyPatch,
    warehouse_url: str,
    snapshots_url: str,
    s3_endpoint: str | None = None,
    *,
    allow_shrink: bool = False,
) -> dg.ExecuteInProcessResult:
    monkeypatch.setenv("BITSO_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("BITSO_SNAPSHOTS_URL", snapshots_url)
    if s3_endpoint:
        monkeypatch.setenv("BITSO_S3_ENDPOINT_URL", s3_endpoint)
    job = defs().resolve_job_def("load_snapshots")
    return job.execute_in_process(
        run_config=load_run_config(allow_shrink=allow_shrink),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def accounting(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """Per snapshot, the accounting recorded as materialization metadata."""
    found = {}
    for event in result.get_asset_materialization_events():
        key = event.asset_key.path
        meta = {k: v.value for k, v in event.materialization.metadata.items()}
        if "rows_read" in meta:
            found[key[1]] = {
                "rows_read": meta["rows_read"],
                "clean": meta["clean"],
                "quarantined": meta["quarantined_by_reason"],
                "exact_duplicates": meta["exact_duplicates"],
                "blank": meta["blank"],
            }
    return found


def checks_passed(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {
        f"{e.asset_check_evaluation_data.asset_key.to_user_string()}:"
        f"{e.asset_check_evaluation_data.check_name}": e.asset_check_evaluation_data.passed
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def table_contents(url: str) -> dict[str, list[tuple]]:
    """Every raw and core table, sorted; quarantine rows without their source path."""
    with psycopg.connect(url) as conn:
        tables = {t: conn.execute(f"select * from {t}").fetchall() for t in TABLES}
    tables["raw.quarantine"] = [row[:1] + row[2:] for row in tables["raw.quarantine"]]
    return {t: sorted(rows, key=str) for t, rows in tables.items()}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated")
    generate_snapshots(out, scale=0.02, seed=7, defects=True)
    return out


@pytest.fixture
def real_snapshots(tmp_path: Path) -> Path:
    """The real users and withdrawals files, with header-only deposits and events."""
    for name in ("users", "withdrawals"):
        shutil.copy(REAL_SNAPSHOTS / SNAPSHOTS[name].file, tmp_path)
    for name in ("deposits", "events"):
        (tmp_path / SNAPSHOTS[name].file).write_text(",".join(SNAPSHOTS[name].header) + "\n")
    return tmp_path


def test_the_real_fixture_files_load_with_an_exact_account(
    monkeypatch: pytest.MonkeyPatch, warehouse_url: str, real_snapshots: Path
) -> None:
    result = run_load(monkeypatch, warehouse_url, str(real_snapshots), allow_shrink=True)
    assert result.success
    found = accounting(result)
    assert found["users"] == {
        "rows_read": 25_700,
        "clean": 25_699,
        "quarantined": {},
        "exact_duplicates": 0,
        "blank": 1,
    }
    assert found["withdrawals"] == {
        "rows_read": 5_098,
        "clean": 5_097,
        "quarantined": {"non_positive_amount": 1},
        "exact_duplicates": 0,
        "blank": 0,
    }
    assert "user_levels" not in found  # optional and absent: not loaded
    assert all(checks_passed(result).values())
    with psycopg.connect(warehouse_url) as conn:
        failed, currencies, big = conn.execute(
            "select count(*) filter (where status = 'failed'), count(distinct currency),"
            " max(amount) from core.transactions"
        ).fetchone()
    # 1,847 failed rows in the file, one of them the quarantined -10; 42 distinct currencies
    assert (failed, currencies, big) == (1_846, 42, 6_827_677_768_780)


def test_generated_defects_give_exactly_the_expected_accounting(
    monkeypatch: pytest.MonkeyPatch, warehouse_url: str, generated: Path
) -> None:
    result = run_load(monkeypatch, warehouse_url, str(generated))
    assert result.success
    manifest = json.loads((generated / "manifest.json").read_text())
    expected = {
        name: {k: v for k, v in entry.items() if k != "file"} for name, entry in manifest.items()
    }
    assert accounting(result) == expected
    assert all(checks_passed(result).values())
    assert len(checks_passed(result)) == 5 + 4


@pytest.fixture
def user_reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry (the number of ids) per read of the clean users from raw.users."""
    reads = []
    receive = Users.receive.__func__

    def counted(cls: type[Users], chunks: Iterable[bytes], count: int, *rest: object) -> Users:
        reads.append(count)
        return receive(cls, chunks, count, *rest)

    monkeypatch.setattr(Users, "receive", classmethod(counted))
    return reads


def test_a_load_reads_the_clean_users_once_for_its_files(
    monkeypatch: pytest.MonkeyPatch, warehouse_url: str, generated: Path, user_reads: list[int]
) -> None:
    """Deposits, withdrawals, events and user levels are judged against the same users: a
    load reads them from raw.users once (2.6 million take seconds), not once per file."""
    result = run_load(monkeypatch, warehouse_url, str(generated))
    assert result.success
    assert len([s for s in SNAPSHOTS.values() if s.of_kind(Kind.USER_REF)]) == 4
    assert len(user_reads) == 1


def test_the_load_reads_the_users_again_once_they_are_loaded_again(
    warehouse_url: str, user_reads: list[int]
) -> None:
    users_file = SNAPSHOTS["users"]
    loaded = ["a" * 32, "b" * 32]
    run = SimpleNamespace(run=SimpleNamespace(run_id="users-twice"))
    resource = LoadTransaction(warehouse=Warehouse(url=warehouse_url))
    with resource.yield_for_execution(run) as load:  # type: ignore[arg-type]
        for number, user_id in enumerate(loaded, 1):
            with load.savepoint() as conn:
                text = f"{users_file.header[0]}\n{user_id}\n".encode()
                load_snapshot(conn, io.BytesIO(text), users_file, source="users")
            for source in ("deposits", "events"):
                users = load.clean_users(source)
                assert users.contain(pa.array(loaded)).tolist() == [u == user_id for u in loaded]
            assert len(user_reads) == number  # once per load of the users


def test_a_second_load_of_the_same_files_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, warehouse_url: str, generated: Path
) -> None:
    assert run_load(monkeypatch, warehouse_url, str(generated)).success
    first = table_contents(warehouse_url)
    assert run_load(monkeypatch, warehouse_url, str(generated)).success
    assert table_contents(warehouse_url) == first


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.write_text("id;event_timestamp\n1;2\n"), "wrong header"),
        (lambda p: p.write_bytes(p.read_bytes()[:200] + b"\xc3\x28 bad\n"), "not valid UTF-8"),
        (lambda p: p.unlink(), "missing"),
    ],
    ids=["wrong-header", "undecodable-bytes", "missing-file"],
)
def test_a_malformed_file_fails_naming_it_and_leaves_the_previous_load_intact(
    monkeypatch: pytest.MonkeyPatch,
    warehouse_url: str,
    generated: Path,
    tmp_path: Path,
    damage,
    message: str,
) -> None:
    assert run_load(monkeypatch, warehouse_url, str(generated)).success
    before = table_contents(warehouse_url)
    broken = tmp_path / "broken"
    shutil.copytree(generated, broken)
    damage(broken / SNAPSHOTS["deposits"].file)

    result = run_load(monkeypatch, warehouse_url, str(broken))

    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    error = failure.step_failure_data.error
    text = (error.cause or error).message
    assert "deposit_sample_data.csv" in text and message in text
    assert table_contents(warehouse_url) == before


def test_loading_from_s3_and_from_a_folder_gives_identical_tables(
    monkeypatch: pytest.MonkeyPatch,
    new_database_url,
    generated: Path,
    s3_endpoint: str,
    s3_bucket: str,
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    for snapshot in SNAPSHOTS.values():
        s3.upload_file(str(generated / snapshot.file), s3_bucket, f"drops/today/{snapshot.file}")
    from_folder, from_s3 = new_database_url(), new_database_url()

    assert run_load(monkeypatch, from_folder, str(generated)).success
    assert run_load(monkeypatch, from_s3, f"s3://{s3_bucket}/drops/today", s3_endpoint).success

    folder_tables, s3_tables = table_contents(from_folder), table_contents(from_s3)
    assert folder_tables == s3_tables
    assert len(s3_tables["raw.deposits"]) > 0
