"""Spread charts of the real fixture's windows land beside the window files (folder and S3)."""

import base64
import re
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow.parquet as pq
import pytest
from dagster_aws.s3 import S3Resource

from bitso_platform.defs.ticker import assets, charts
from bitso_platform.devtools.replay import Observation
from bitso_platform.resources.alerts import SpreadAlerts
from bitso_platform.resources.exchange import BitsoExchange
from bitso_platform.resources.lake import Lake, LakeFiles
from bitso_platform.resources.lake_io_manager import LakeIOManager
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.ticker.records import spread_percent
from bitso_platform_tests.ticker.alert_reference import store_observations
from bitso_platform_tests.ticker.conftest import at

CHARTED = [assets.ticker_spread, charts.ticker_spread_chart]
WINDOW_FOLDER = "date=2024-07-16/hour=22/minute=40"


@pytest.fixture(params=["folder", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    if request.param == "folder":
        return Lake(url=str(tmp_path / "lake"))
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return Lake(url=f"s3://{bucket}/lake", s3=S3Resource(endpoint_url=endpoint))


@pytest.fixture
def stored(warehouse_url: str, recorded: list[Observation]) -> list[Observation]:
    """The fixture's first day (22:20 to midnight) in `ticker.spread_observations`."""
    day = [o for o in recorded if o.second < at("23:59:59") + 1]
    store_observations(warehouse_url, day)
    return day


def resources_for(warehouse: Warehouse, lake: Lake, books: str = "btc_mxn,usd_mxn") -> dict:
    return {
        "warehouse": warehouse,
        "lake": lake,
        "exchange": BitsoExchange(books=books),
        "alerts": SpreadAlerts(thresholds="0.1,0.5,1.0"),
        "lake_io_manager": LakeIOManager(lake=lake),
    }


def text(files: LakeFiles, key: str) -> str:
    return files.filesystem.open_input_stream(key).read().decode("utf-8")


def chart_metadata(
    result: dg.ExecuteInProcessResult, partition: str
) -> dict[str, dg.MetadataValue]:
    """The chart asset's materialization metadata of one window."""
    (event,) = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == charts.TICKER_SPREAD_CHART and e.partition == partition
    ]
    return event.materialization.metadata


def strokes(svg: str) -> int:
    """Pieces of the spread line: subpaths of its SVG path that draw at least one segment."""
    match = re.search(r'<g id="spread">\s*<path d="([^"]*)"', svg)
    assert match, "the chart has no spread line"
    return sum("L " in subpath for subpath in match.group(1).split("M "))


def runs(flags: pd.Series) -> int:
    """Uninterrupted runs of True."""
    values = flags.to_numpy(dtype=bool)
    return int(values[0]) + int(((~values[:-1]) & values[1:]).sum())


def test_a_window_run_writes_a_chart_per_book_beside_the_window_files_linked_from_its_metadata(
    warehouse: Warehouse, lake: Lake, stored: list[Observation]
) -> None:
    result = dg.materialize(
        CHARTED, resources=resources_for(warehouse, lake), partition_key="2024-07-16-22:40"
    )

    files = lake.files()
    assert files.paths("ticker_spread_chart") == [
        "ticker_spread_chart/book=btc_mxn/date=2024-07-16/chart.svg",
        f"ticker_spread_chart/book=btc_mxn/{WINDOW_FOLDER}/chart.svg",
        "ticker_spread_chart/book=usd_mxn/date=2024-07-16/chart.svg",
        f"ticker_spread_chart/book=usd_mxn/{WINDOW_FOLDER}/chart.svg",
    ]
    metadata = chart_metadata(result, "2024-07-16-22:40")
    for book in ("btc_mxn", "usd_mxn"):
        key = f"ticker_spread_chart/book={book}/{WINDOW_FOLDER}/chart.svg"
        assert metadata[f"chart_{book}"] == dg.MetadataValue.path(files.uri(key))
        assert metadata[f"day_chart_{book}"] == dg.MetadataValue.path(
            files.uri(f"ticker_spread_chart/book={book}/date=2024-07-16/chart.svg")
        )
        svg = text(files, key)
        assert svg.startswith("<?xml") and "</svg>" in svg
        highest = max(
            spread_percent(o.bid, o.ask)
            for o in stored
            if o.book == book and at("22:40:00") <= o.second < at("22:50:00")
        )
        assert metadata[f"max_spread_{book}"].value == highest
        assert f"{book} spread, 2024-07-16 22:40 to 22:50 UTC" in svg
        preview = metadata[f"chart_preview_{book}"].value
        encoded = re.fullmatch(
            r"!\[[^\]]+\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", preview
        )
        assert encoded and base64.b64decode(encoded.group(1)).decode() == svg


def test_seconds_without_a_quote_are_breaks_in_the_line_and_shaded_never_drawn_across(
    warehouse: Warehouse, tmp_path: Path, stored: list[Observation]
) -> None:
    lake = Lake(url=str(tmp_path / "lake"))

    dg.materialize(
        CHARTED, resources=resources_for(warehouse, lake), partition_key="2024-07-16-22:40"
    )

    files = lake.files()
    for book, quoted_runs in (("btc_mxn", 10), ("usd_mxn", 13)):
        key = f"ticker_spread/book={book}/{WINDOW_FOLDER}/part.parquet"
        records = pq.read_table(key, filesystem=files.filesystem).to_pandas()
        assert runs(~records["is_gap"]) == quoted_runs
        svg = text(files, f"ticker_spread_chart/book={book}/{WINDOW_FOLDER}/chart.svg")
        assert strokes(svg) == quoted_runs  # the pen lifts at every gap
        gap_bands = re.search(r'<g id="gaps">(.*?)</g>', svg, re.DOTALL)
        assert gap_bands and gap_bands.group(1).count("<path") == runs(records["is_gap"])


def test_a_range_run_redraws_the_chart_of_each_day_it_touches_from_the_day_s_window_files(
    warehouse: Warehouse, lake: Lake, stored: list[Observation]
) -> None:
    resources = resources_for(warehouse, lake)
    dg.materialize(CHARTED, resources=resources, partition_key="2024-07-16-22:40")

    result = dg.materialize(
        CHARTED,
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": "2024-07-16-23:00",
            "dagster/asset_partition_range_end": "2024-07-17-00:00",
        },
    )

    files = lake.files()
    window_charts = [k for k in files.paths("ticker_spread_chart") if "/minute=" in k]
    assert len(window_charts) == 16  # 22:40 and 23:00..00:00, for two books
    metadata = chart_metadata(result, "2024-07-16-23:30")
    assert metadata["window_charts_written"].value == 14
    assert not any(name.startswith(("chart_", "max_spread_")) for name in metadata)
    day_charts = [k for k in files.paths("ticker_spread_chart") if "/minute=" not in k]
    assert [k.split("/", 2)[1:] for k in sorted(day_charts)] == [
        ["book=btc_mxn", "date=2024-07-16/chart.svg"],
        ["book=btc_mxn", "date=2024-07-17/chart.svg"],
        ["book=usd_mxn", "date=2024-07-16/chart.svg"],
        ["book=usd_mxn", "date=2024-07-17/chart.svg"],
    ]
    assert all(files.uri(key) in metadata["day_charts"].value for key in day_charts)
    day = text(files, "ticker_spread_chart/book=btc_mxn/date=2024-07-16/chart.svg")
    quoted = [o for o in stored if o.book == "btc_mxn" and o.second >= at("22:40:00")]
    quoted = [o for o in quoted if not at("22:50:00") <= o.second < at("23:00:00")]
    assert "btc_mxn spread, 2024-07-16 UTC, highest spread of each minute" in day
    assert "max 11.2 % · mean" in day  # the spike at 23:40:44
    assert f"{len(quoted):,} of 86,400 seconds quoted" in day
    next_day = text(files, "ticker_spread_chart/book=btc_mxn/date=2024-07-17/chart.svg")
    assert "no quote in this span" in next_day


def test_a_window_without_any_quote_is_charted_as_one_gap_that_says_so(
    warehouse: Warehouse, tmp_path: Path, stored: list[Observation]
) -> None:
    lake = Lake(url=str(tmp_path / "lake"))

    result = dg.materialize(
        CHARTED, resources=resources_for(warehouse, lake), partition_key="2024-07-17-00:40"
    )

    svg = text(
        lake.files(),
        "ticker_spread_chart/book=usd_mxn/date=2024-07-17/hour=00/minute=40/chart.svg",
    )
    assert "usd_mxn spread, 2024-07-17 00:40 to 00:50 UTC" in svg
    assert "no quote in this span" in svg
    assert strokes(svg) == 0
    assert "max_spread_usd_mxn" not in chart_metadata(result, "2024-07-17-00:40")


def test_a_lake_of_one_book_gets_the_charts_of_that_book_only(
    warehouse: Warehouse, warehouse_url: str, tmp_path: Path, recorded: list[Observation]
) -> None:
    store_observations(warehouse_url, [o for o in recorded if o.book == "btc_mxn"])
    lake = Lake(url=str(tmp_path / "lake"))

    dg.materialize(
        CHARTED,
        resources=resources_for(warehouse, lake, books="btc_mxn"),
        partition_key="2024-07-16-23:20",
    )

    assert lake.files().paths("ticker_spread_chart") == [
        "ticker_spread_chart/book=btc_mxn/date=2024-07-16/chart.svg",
        "ticker_spread_chart/book=btc_mxn/date=2024-07-16/hour=23/minute=20/chart.svg",
    ]
