"""The lake IO manager: Hive-partitioned files on a folder and on a real S3 endpoint."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from dagster_aws.s3 import S3Resource

from bitso_platform.resources.lake import Lake
from bitso_platform.resources.lake_io_manager import LakeIOManager, hive_key, time_folders

WINDOWS = dg.TimeWindowPartitionsDefinition(
    cron_schedule="*/10 * * * *", start="2024-07-16-22:20", fmt="%Y-%m-%d-%H:%M", timezone="UTC"
)
START = datetime(2024, 7, 16, 22, 20, tzinfo=UTC)
RANGE = {
    "dagster/asset_partition_range_start": "2024-07-16-22:20",
    "dagster/asset_partition_range_end": "2024-07-16-22:40",
}


def frame_for(start: datetime, windows: int, *, value: float = 1.0) -> pd.DataFrame:
    """Two books, one row per minute, over `windows` 10-minute windows from `start`."""
    minutes = [start + timedelta(minutes=m) for m in range(10 * windows)]
    return pd.DataFrame(
        {
            "at": [m.isoformat() for m in minutes for _ in ("a_b", "c_d")],
            "book": [book for _ in minutes for book in ("a_b", "c_d")],
            "value": value,
        }
    )


@pytest.fixture(params=["folder", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "folder":
        return Lake(url=str(tmp_path / "lake"))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return Lake(url=f"s3://{bucket}/lake", s3=S3Resource(endpoint_url=endpoint))


def windowed(
    value: float = 1.0, *, broken_window: int | None = None, **metadata: object
) -> dg.AssetsDefinition:
    """A 10-minute-partitioned lake asset split by book whose frame covers the run's windows."""

    @dg.asset(
        key=["lake", "things"],
        partitions_def=WINDOWS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key="lake_io_manager",
        metadata={"partition_expr": "at", "split_by": ["book"], **metadata},
    )
    def things(context: dg.AssetExecutionContext) -> pd.DataFrame:
        window = context.partition_time_window
        frame = frame_for(window.start, len(context.partition_keys), value=value)
        if broken_window is not None:  # an object Parquet cannot encode, in one window only
            frame["value"] = frame["value"].astype(object)
            frame.loc[20 * broken_window, "value"] = object()
        return frame

    return things


def read(lake: Lake, key: str) -> pd.DataFrame:
    return pq.read_table(key, filesystem=lake.files().filesystem).to_pandas()


def contents(lake: Lake) -> dict[str, pd.DataFrame]:
    """Every file of the lake, read."""
    return {key: read(lake, key) for key in lake.files().paths()}


def test_one_window_lands_as_one_file_per_book_under_hive_partition_folders(lake: Lake) -> None:
    result = dg.materialize(
        [windowed()],
        resources={"lake_io_manager": LakeIOManager(lake=lake)},
        partition_key="2024-07-16-22:30",
    )

    files = lake.files()
    assert files.paths() == [
        "things/book=a_b/date=2024-07-16/hour=22/minute=30/part.parquet",
        "things/book=c_d/date=2024-07-16/hour=22/minute=30/part.parquet",
    ]
    written = read(lake, files.paths()[0])
    assert len(written) == 10 and set(written["book"]) == {"a_b"}
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["dagster/row_count"].value == 20
    assert metadata["path"].value == files.uri("things")  # type: ignore[attr-defined]
    assert metadata["files_written"].value == 2


def test_a_single_run_backfill_of_three_windows_writes_one_file_per_window_and_book(
    lake: Lake,
) -> None:
    result = dg.materialize(
        [windowed()], resources={"lake_io_manager": LakeIOManager(lake=lake)}, tags=RANGE
    )

    keys = lake.files().paths()
    assert len(keys) == 6
    assert {key.split("/")[4] for key in keys} == {"minute=20", "minute=30", "minute=40"}
    assert all(len(read(lake, key)) == 10 for key in keys)
    events = result.get_asset_materialization_events()
    assert sorted(e.partition for e in events) == [  # type: ignore[type-var]
        "2024-07-16-22:20",
        "2024-07-16-22:30",
        "2024-07-16-22:40",
    ]
    assert {e.materialization.metadata["dagster/row_count"].value for e in events} == {20}


def test_a_downstream_asset_reads_back_exactly_the_run_s_windows(lake: Lake) -> None:
    upstream = windowed()

    @dg.asset(partitions_def=WINDOWS, backfill_policy=dg.BackfillPolicy.single_run())
    def total(things: pd.DataFrame) -> None:
        assert len(things) == 40 and things["at"].min() == "2024-07-16T22:30:00+00:00"

    dg.materialize([upstream], resources={"lake_io_manager": LakeIOManager(lake=lake)}, tags=RANGE)
    result = dg.materialize(
        [upstream.to_source_asset(), total],
        resources={"lake_io_manager": LakeIOManager(lake=lake)},
        tags={
            "dagster/asset_partition_range_start": "2024-07-16-22:30",
            "dagster/asset_partition_range_end": "2024-07-16-22:40",
        },
        selection=[total],
    )

    assert result.success


def test_the_lake_reads_as_one_hive_partitioned_dataset_pruned_by_its_folders(
    lake: Lake,
) -> None:
    dg.materialize(
        [windowed()], resources={"lake_io_manager": LakeIOManager(lake=lake)}, tags=RANGE
    )
    # `book` is a column of the files too, so only the time folders are read as fields.
    time_fields = pa.schema([("date", pa.date32()), ("hour", pa.int8()), ("minute", pa.int8())])
    things = ds.dataset(
        "things",
        filesystem=lake.files().filesystem,
        format="parquet",
        partitioning=ds.partitioning(time_fields, flavor="hive"),
    )

    half_past = ds.field("minute") == 30

    assert things.count_rows() == 60
    pruned = things.get_fragments(filter=half_past)
    assert [f.path.split("/")[1] for f in pruned] == ["book=a_b", "book=c_d"]
    assert set(things.to_table(filter=half_past)["at"].to_pylist()) == {
        (START + timedelta(minutes=10 + m)).isoformat() for m in range(10)
    }


def test_csv_is_written_when_the_output_asks_for_it(tmp_path: Path) -> None:
    lake = Lake(url=str(tmp_path / "lake"))

    dg.materialize(
        [windowed(format="csv")],
        resources={"lake_io_manager": LakeIOManager(lake=lake)},
        partition_key="2024-07-16-22:20",
    )

    files = lake.files()
    keys = files.paths()
    assert keys[0].endswith("minute=20/part.csv")
    header = files.filesystem.open_input_stream(keys[0]).read().decode().splitlines()[0]
    assert header == "at,book,value"


def test_a_frame_that_fails_to_encode_mid_range_leaves_every_previous_file_intact(
    lake: Lake,
) -> None:
    resources = {"lake_io_manager": LakeIOManager(lake=lake)}
    dg.materialize([windowed(1.0)], resources=resources, tags=RANGE)
    before = contents(lake)

    result = dg.materialize(
        [windowed(2.0, broken_window=2)], resources=resources, tags=RANGE, raise_on_error=False
    )

    assert not result.success
    assert lake.files().paths() == sorted(before)
    for key, frame in before.items():
        pd.testing.assert_frame_equal(read(lake, key), frame)


def test_a_write_failing_part_way_leaves_each_file_whole_old_or_new(tmp_path: Path) -> None:
    lake = Lake(url=str(tmp_path / "lake"))
    resources = {"lake_io_manager": LakeIOManager(lake=lake)}
    dg.materialize([windowed(1.0)], resources=resources, tags=RANGE)
    blocked = tmp_path / "lake" / "things/book=a_b/date=2024-07-16/hour=22/minute=30/part.parquet"
    blocked.unlink()
    blocked.mkdir()  # the rename onto this path fails: a disk error in the middle of the run

    result = dg.materialize([windowed(2.0)], resources=resources, tags=RANGE, raise_on_error=False)

    assert not result.success
    values = {key: set(frame["value"]) for key, frame in contents(lake).items()}
    assert values == {  # files are written window by window, book by book
        "things/book=a_b/date=2024-07-16/hour=22/minute=20/part.parquet": {2.0},
        "things/book=c_d/date=2024-07-16/hour=22/minute=20/part.parquet": {2.0},
        "things/book=c_d/date=2024-07-16/hour=22/minute=30/part.parquet": {1.0},  # not reached
        "things/book=a_b/date=2024-07-16/hour=22/minute=40/part.parquet": {1.0},
        "things/book=c_d/date=2024-07-16/hour=22/minute=40/part.parquet": {1.0},
    }
    assert not list(blocked.parent.glob(".*"))  # the staged file of the failed rename is gone
    blocked.rmdir()
    assert dg.materialize([windowed(2.0)], resources=resources, tags=RANGE).success  # a rerun
    assert {v for frame in contents(lake).values() for v in frame["value"]} == {2.0}


def test_partition_folders_are_as_coarse_as_the_partition() -> None:
    day = dg.TimeWindow(
        START.replace(hour=0, minute=0), START.replace(hour=0, minute=0) + timedelta(days=1)
    )
    hour = dg.TimeWindow(START.replace(minute=0), START.replace(minute=0) + timedelta(hours=1))
    ten = dg.TimeWindow(START, START + timedelta(minutes=10))

    assert time_folders(day) == "date=2024-07-16"
    assert time_folders(hour) == "date=2024-07-16/hour=22"
    assert time_folders(ten) == "date=2024-07-16/hour=22/minute=20"
    assert (
        hive_key(
            dg.AssetKey(["lake", "ticker_spread"]),
            split=[("book", "btc_mxn")],
            partition=time_folders(ten),
        )
        == "ticker_spread/book=btc_mxn/date=2024-07-16/hour=22/minute=20/part.parquet"
    )
