"""Ten-minute windows of the real fixture land in the lake (folder and S3) and in Postgres."""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pandas as pd
import psycopg
import pyarrow.parquet as pq
import pytest
from dagster_aws.s3 import S3Resource

from bitso_platform.defs.ticker import assets, checks
from bitso_platform.defs.ticker.partitions import partitions_start
from bitso_platform.defs.ticker.schedules import ticker_windows_schedule
from bitso_platform.devtools.replay import Observation
from bitso_platform.resources.exchange import BitsoExchange
from bitso_platform.resources.lake import Lake, LakeFiles
from bitso_platform.resources.lake_io_manager import LakeIOManager
from bitso_platform.resources.postgres_io_manager import PostgresPandasIOManager
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.ticker.records import Quote, SpreadRecord, spread_percent
from bitso_platform.ticker.store import ObservationStore
from bitso_platform_tests.ticker.alert_reference import store_observations
from bitso_platform_tests.ticker.conftest import at

EVERYTHING = [
    assets.ticker_spread,
    assets.spread_window_stats,
    checks.six_hundred_records_per_book,
    checks.seconds_unique_and_increasing,
    checks.spread_formula_exact,
    checks.ask_not_below_bid,
]
SPEC_COLUMNS = ["orderbook_timestamp", "book", "bid", "ask", "spread"]


@pytest.fixture(params=["folder", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "folder":
        return Lake(url=str(tmp_path / "lake"))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return Lake(url=f"s3://{bucket}/lake", s3=S3Resource(endpoint_url=endpoint))


@pytest.fixture
def stored(warehouse_url: str, recorded: list[Observation]) -> list[Observation]:
    """The fixture from 22:20 to 00:00 stored as the sampler would have (no gap rows: the
    fixture holds covered seconds only, so every other second has no row at all)."""
    window = [o for o in recorded if o.second < at("23:59:59") + 1]
    store_observations(warehouse_url, window)
    return window


def resources_for(warehouse: Warehouse, lake: Lake) -> dict[str, object]:
    return {
        "warehouse": warehouse,
        "exchange": BitsoExchange(books="btc_mxn,usd_mxn"),
        "lake_io_manager": LakeIOManager(lake=lake),
        "postgres_io_manager": PostgresPandasIOManager(warehouse=warehouse),
    }


def read(files: LakeFiles, key: str) -> pd.DataFrame:
    return pq.read_table(key, filesystem=files.filesystem).to_pandas()


def checks_of(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_a_full_window_lands_as_one_600_record_file_per_book_with_the_feed_s_values(
    warehouse: Warehouse, lake: Lake, stored: list[Observation]
) -> None:
    result = dg.materialize(
        EVERYTHING, resources=resources_for(warehouse, lake), partition_key="2024-07-16-23:20"
    )

    files = lake.files()
    assert files.paths() == [
        "ticker_spread/book=btc_mxn/date=2024-07-16/hour=23/minute=20/part.parquet",
        "ticker_spread/book=usd_mxn/date=2024-07-16/hour=23/minute=20/part.parquet",
    ]
    btc = read(files, files.paths()[0])
    assert list(btc.columns[:5]) == SPEC_COLUMNS
    assert len(btc) == 600 and not btc["is_gap"].any()
    assert btc["orderbook_timestamp"].iloc[0] == "2024-07-16T23:20:00+00:00"
    feed = {o.second: o for o in stored if o.book == "btc_mxn"}
    for row in btc.itertuples():
        observation = feed[int(datetime.fromisoformat(row.orderbook_timestamp).timestamp())]
        assert (row.bid, row.ask) == (observation.bid, observation.ask)
        assert row.spread == spread_percent(observation.bid, observation.ask)
    evaluations = checks_of(result)
    assert all(e.passed for e in evaluations.values()), evaluations
    assert evaluations["six_hundred_records_per_book"].metadata["min_coverage"].value == 1.0


def test_seconds_without_a_stored_row_become_gap_records_never_invented_values(
    warehouse: Warehouse, tmp_path: Path, stored: list[Observation]
) -> None:
    lake = Lake(url=str(tmp_path / "lake"))

    result = dg.materialize(
        EVERYTHING, resources=resources_for(warehouse, lake), partition_key="2024-07-16-22:50"
    )

    btc = read(
        lake.files(), "ticker_spread/book=btc_mxn/date=2024-07-16/hour=22/minute=50/part.parquet"
    )
    covered = {
        o.second
        for o in stored
        if o.book == "btc_mxn" and at("22:50:00") <= o.second < at("23:00:00")
    }
    assert len(btc) == 600 and (~btc["is_gap"]).sum() == len(covered) == 56
    gaps = btc[btc["is_gap"]]
    assert gaps[["bid", "ask", "spread"]].isna().all().all()
    assert not gaps["is_sampled"].any()  # no row at all: the sampler was not running
    evaluations = checks_of(result)
    coverage = evaluations["six_hundred_records_per_book"]
    assert not coverage.passed and coverage.severity == dg.AssetCheckSeverity.WARN
    assert coverage.metadata["book_windows_not_600"].value == 0
    assert all(
        e.passed for name, e in evaluations.items() if name != "six_hundred_records_per_book"
    )
    assert result.success  # a WARN does not block the stats


def test_a_backfill_of_a_range_of_windows_writes_one_file_per_window_and_book_in_one_run(
    warehouse: Warehouse, warehouse_url: str, lake: Lake, stored: list[Observation]
) -> None:
    result = dg.materialize(
        EVERYTHING,
        resources=resources_for(warehouse, lake),
        tags={
            "dagster/asset_partition_range_start": "2024-07-16-23:00",
            "dagster/asset_partition_range_end": "2024-07-16-23:50",
        },
    )

    keys = lake.files().paths()
    assert len(keys) == 12  # 6 windows x 2 books
    assert {key.split("/", 2)[2].rsplit("/", 1)[0] for key in keys} == {
        f"date=2024-07-16/hour=23/minute={m}0" for m in range(6)
    }
    assert all(len(read(lake.files(), key)) == 600 for key in keys)
    lake_partitions = [
        e.partition
        for e in result.get_asset_materialization_events()  # all from this one run
        if e.asset_key == assets.TICKER_SPREAD
    ]
    assert len(lake_partitions) == 6
    with psycopg.connect(warehouse_url) as conn:
        stats = conn.execute(
            "select count(*), sum(count_records), min(count_records), max(max_spread)"
            " from ticker.spread_window_stats"
        ).fetchone()
    assert stats is not None and stats[:3] == (12, 7200, 600)
    assert stats[3] == pytest.approx(11.2, abs=0.01)  # btc_mxn's spike at 23:40:44


def test_window_stats_count_coverage_and_spread_statistics_per_book(
    warehouse: Warehouse, warehouse_url: str, tmp_path: Path, stored: list[Observation]
) -> None:
    dg.materialize(
        EVERYTHING,
        resources=resources_for(warehouse, Lake(url=str(tmp_path / "lake"))),
        partition_key="2024-07-16-22:50",
    )

    with psycopg.connect(warehouse_url) as conn:
        row = conn.execute(
            "select count_records, count_observed, count_gaps, count_unsampled, coverage,"
            " min_spread, max_spread from ticker.spread_window_stats where book = 'btc_mxn'"
        ).fetchone()
    spreads = [
        spread_percent(o.bid, o.ask)
        for o in stored
        if o.book == "btc_mxn" and at("22:50:00") <= o.second < at("23:00:00")
    ]
    assert row == (600, 56, 544, 544, 56 / 600, min(spreads), max(spreads))


@pytest.mark.parametrize("tick", ["23:32:00", "23:41:59"])
def test_the_schedule_writes_the_last_window_closed_two_minutes_before_the_tick(tick: str) -> None:
    context = dg.build_schedule_context(
        scheduled_execution_time=datetime.fromisoformat(f"2024-07-16T{tick}+00:00")
    )

    request = ticker_windows_schedule(context)

    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == "2024-07-16-23:20"


def test_the_first_window_is_configurable_and_must_be_on_a_ten_minute_boundary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert partitions_start() == datetime(2024, 7, 16, 22, 20, tzinfo=UTC)
    monkeypatch.setenv("BITSO_TICKER_PARTITIONS_START", "2025-01-01T00:10")
    assert partitions_start() == datetime(2025, 1, 1, 0, 10, tzinfo=UTC)
    monkeypatch.setenv("BITSO_TICKER_PARTITIONS_START", "2025-01-01T00:15")
    with pytest.raises(ValueError, match="10-minute boundary"):
        partitions_start()


def test_a_window_without_any_stored_row_is_600_gap_records_per_book_with_null_stats(
    warehouse: Warehouse, warehouse_url: str, tmp_path: Path, stored: list[Observation]
) -> None:
    lake = Lake(url=str(tmp_path / "lake"))

    result = dg.materialize(
        EVERYTHING, resources=resources_for(warehouse, lake), partition_key="2024-07-17-00:40"
    )

    assert result.success
    files = lake.files().paths()
    assert len(files) == 2
    for key in files:
        records = read(lake.files(), key)
        assert len(records) == 600 and records["is_gap"].all() and not records["is_sampled"].any()
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            "select book, coverage, max_spread, max_spread_at from ticker.spread_window_stats"
            " order by book"
        ).fetchall()
        kind = conn.execute(
            "select data_type from information_schema.columns"
            " where table_name = 'spread_window_stats' and column_name = 'max_spread_at'"
        ).fetchone()
    assert rows == [("btc_mxn", 0.0, None, None), ("usd_mxn", 0.0, None, None)]
    assert kind == ("timestamp with time zone",)


def test_held_seconds_land_in_the_lake_flagged_is_held_and_count_as_covered(
    warehouse: Warehouse, warehouse_url: str, tmp_path: Path
) -> None:
    start = at("23:20:00")
    quote = Quote("btc_mxn", 1135939.98, 1135940.02, start + 0.3, start + 0.35, "ws")
    records = [SpreadRecord.covered(start, quote)]
    records += [SpreadRecord.covered(s, quote, held=True) for s in range(start + 1, start + 600)]
    records += [SpreadRecord.gap(s, "usd_mxn") for s in range(start, start + 600)]
    ObservationStore(warehouse_url).write(records)
    lake = Lake(url=str(tmp_path / "lake"))

    result = dg.materialize(
        EVERYTHING, resources=resources_for(warehouse, lake), partition_key="2024-07-16-23:20"
    )

    btc = read(
        lake.files(), "ticker_spread/book=btc_mxn/date=2024-07-16/hour=23/minute=20/part.parquet"
    )
    assert btc["is_held"].sum() == 599 and not btc["is_held"].iloc[0]
    assert not btc["is_gap"].any() and (btc["ask"] == quote.ask).all()
    written = result.get_asset_materialization_events()[0].materialization.metadata
    assert (written["held_records"].value, written["gap_records"].value) == (599, 600)
    coverage = checks_of(result)["six_hundred_records_per_book"]
    assert coverage.metadata["held_records"].value == 599
    assert "| 2024-07-16 23:20 | btc_mxn | 600 | 100.0% |" in coverage.metadata["coverage"].value
    with psycopg.connect(warehouse_url) as conn:
        counts = conn.execute(
            "select book, count_held, count_gaps from ticker.spread_window_stats order by book"
        ).fetchall()
    assert counts == [("btc_mxn", 599, 0), ("usd_mxn", 0, 600)]
