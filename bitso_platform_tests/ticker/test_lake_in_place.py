"""The lake on S3 is queried in place by DuckDB, as docs/ticker.md shows ("Querying the lake in
place"): `read_parquet(..., hive_partitioning = true)` over the window files, without copying
them anywhere and without DuckDB's downloadable httpfs extension."""

from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
from dagster_aws.s3 import S3Resource
from fsspec.implementations.arrow import ArrowFSWrapper
from pyarrow.fs import S3FileSystem

from bitso_platform.defs.ticker import assets
from bitso_platform.devtools.replay import Observation
from bitso_platform.resources.exchange import BitsoExchange
from bitso_platform.resources.lake import Lake, LakeFiles
from bitso_platform.resources.lake_io_manager import LakeIOManager
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform_tests.ticker.alert_reference import store_observations
from bitso_platform_tests.ticker.conftest import BOOKS, at

# Three windows across an hour and a date boundary: 23:40 and 23:50 on the 16th, 00:00 on the 17th.
FIRST_WINDOW, LAST_WINDOW = "2024-07-16-23:40", "2024-07-17-00:00"
START, END = at("23:40:00"), at("23:40:00") + 3 * 600
RECORD_COLUMNS = ["orderbook_timestamp", "book", "bid", "ask", "spread", "is_gap"]
PARTITION_COLUMNS = ["date", "hour", "minute"]  # and `book`, which is also a record column
HIVE_TYPES = "{'date': date, 'hour': integer, 'minute': integer}"


@pytest.fixture
def lake(s3_endpoint: str, s3_bucket: str) -> Lake:
    return Lake(url=f"s3://{s3_bucket}/lake", s3=S3Resource(endpoint_url=s3_endpoint))


@pytest.fixture
def s3_files(s3_endpoint: str) -> ArrowFSWrapper:
    """The filesystem docs/ticker.md registers with DuckDB for `s3://` paths."""
    return ArrowFSWrapper(S3FileSystem(endpoint_override=s3_endpoint))


@pytest.fixture
def windows_in_lake(
    warehouse: Warehouse, warehouse_url: str, lake: Lake, recorded: list[Observation]
) -> pd.DataFrame:
    """The three windows materialized into the S3 lake in one run; returns every record of
    every window file, read file by file with pyarrow."""
    store_observations(warehouse_url, [o for o in recorded if START <= o.second < END])
    result = dg.materialize(
        [assets.ticker_spread],
        resources={
            "warehouse": warehouse,
            "exchange": BitsoExchange(books=",".join(BOOKS)),
            "lake_io_manager": LakeIOManager(lake=lake),
        },
        tags={
            "dagster/asset_partition_range_start": FIRST_WINDOW,
            "dagster/asset_partition_range_end": LAST_WINDOW,
        },
    )
    assert result.success
    files = lake.files()
    keys = files.paths()
    assert len(keys) == 3 * len(BOOKS)
    return pd.concat([read_file(files, key) for key in keys], ignore_index=True)


def read_file(files: LakeFiles, key: str) -> pd.DataFrame:
    return pq.read_table(key, filesystem=files.filesystem).to_pandas()


class OpenedFiles(ArrowFSWrapper):
    """The documented filesystem, recording the files DuckDB opens."""

    cachable = False  # fsspec would otherwise hand back an earlier instance

    def __init__(self, fs: S3FileSystem) -> None:
        super().__init__(fs)
        self.opened: set[str] = set()

    def _open(self, path: str, *args: Any, **kwargs: Any) -> Any:
        self.opened.add(path)
        return super()._open(path, *args, **kwargs)


def query_in_place(filesystem: ArrowFSWrapper, sql: str) -> pd.DataFrame:
    """The snippet of docs/ticker.md: pyarrow's S3 client registered with DuckDB through
    fsspec, so `s3://` paths need no DuckDB extension download."""
    con = duckdb.connect()
    con.register_filesystem(filesystem)
    return con.sql(sql).df()


def scan(bucket: str, glob: str = "**/*.parquet", options: str = "") -> str:
    """The documented `read_parquet` over the lake's window files, typed partition columns."""
    return (
        f"read_parquet('s3://{bucket}/lake/ticker_spread/{glob}', hive_partitioning = true,"
        f" hive_types = {HIVE_TYPES}{options})"
    )


def by_book_and_second(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["book", "orderbook_timestamp"], ignore_index=True)


def iso(second: int) -> str:
    return datetime.fromtimestamp(second, UTC).isoformat()


def window_partition(timestamp: str) -> tuple[date, int, int]:
    """(date, hour, minute) of the 10-minute window holding an ISO-8601 second."""
    second = datetime.fromisoformat(timestamp)
    return second.date(), second.hour, second.minute // 10 * 10


def test_duckdb_reads_exactly_the_windows_records_from_the_s3_lake_with_partition_columns(
    s3_files: ArrowFSWrapper,
    s3_bucket: str,
    windows_in_lake: pd.DataFrame,
    recorded: list[Observation],
) -> None:
    queried = query_in_place(
        s3_files,
        f"select * from {scan(s3_bucket, options=', filename = true')}",
    )

    assert set(RECORD_COLUMNS + PARTITION_COLUMNS) <= set(queried.columns)
    assert len(queried) == len(windows_in_lake) == 3 * 600 * len(BOOKS)
    assert {(r.book, r.orderbook_timestamp) for r in queried.itertuples()} == {
        (book, iso(second)) for book in BOOKS for second in range(START, END)
    }
    quoted = queried[~queried["is_gap"]]
    assert {(r.book, r.orderbook_timestamp, r.bid, r.ask) for r in quoted.itertuples()} == {
        (o.book, iso(o.second), o.bid, o.ask) for o in recorded if START <= o.second < END
    }
    expected = by_book_and_second(windows_in_lake)
    pd.testing.assert_frame_equal(
        by_book_and_second(queried)[list(expected.columns)], expected, check_dtype=False
    )
    for row in queried.itertuples():
        assert (row.date.date(), row.hour, row.minute) == window_partition(row.orderbook_timestamp)
        assert f"/book={row.book}/" in row.filename


def test_a_filter_on_partition_columns_reads_only_the_files_of_those_partitions(
    s3_endpoint: str, s3_bucket: str, windows_in_lake: pd.DataFrame
) -> None:
    filesystem = OpenedFiles(S3FileSystem(endpoint_override=s3_endpoint))

    queried = query_in_place(
        filesystem,
        "select book, date, hour, minute, count(*) as records, count(bid) as quoted,"
        " min(orderbook_timestamp) as first_second"
        f" from {scan(s3_bucket)}"
        " where book = 'usd_mxn' and date = '2024-07-16' and hour = 23"
        " group by all order by all",
    )

    usd = windows_in_lake[windows_in_lake["book"] == "usd_mxn"]
    assert queried[["minute", "records", "first_second"]].values.tolist() == [
        [40, 600, "2024-07-16T23:40:00+00:00"],
        [50, 600, "2024-07-16T23:50:00+00:00"],
    ]
    assert queried["quoted"].tolist() == [
        usd["bid"][usd["orderbook_timestamp"].str.startswith(f"2024-07-16T23:{m}")].count()
        for m in "45"
    ]
    usd_evening = {
        f"{s3_bucket}/lake/ticker_spread/book=usd_mxn/date=2024-07-16/hour=23/minute={m}0/part.parquet"
        for m in "45"
    }
    # Besides those, DuckDB opens at most the glob's first file, for the schema.
    assert {path for path in filesystem.opened if "book=usd_mxn" in path} == usd_evening
    assert len(filesystem.opened) <= len(usd_evening) + 1


@pytest.mark.usefixtures("windows_in_lake")
def test_partition_columns_keep_their_types_whichever_hours_a_query_covers(
    s3_files: ArrowFSWrapper, s3_bucket: str
) -> None:
    # Without hive_types DuckDB guesses from the paths it sees: `hour=23` reads as a number,
    # but `hour=00` (zero-padded so paths sort) as text, so a query's types would depend on
    # whether its files include a morning hour.
    def partition_types(glob: str) -> list[list[str]]:
        described = query_in_place(
            s3_files,
            f"describe select * from {scan(s3_bucket, glob)}",
        )
        kept = described[described["column_name"].isin(PARTITION_COLUMNS)]
        return kept[["column_name", "column_type"]].values.tolist()

    evening_only = partition_types("book=*/date=2024-07-16/**/*.parquet")

    assert evening_only == partition_types("**/*.parquet")
    assert evening_only == [["date", "DATE"], ["hour", "INTEGER"], ["minute", "INTEGER"]]
