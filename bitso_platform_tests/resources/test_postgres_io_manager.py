"""The Postgres IO manager: partition ranges replaced in one transaction, at COPY speed."""

from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import psycopg
import pytest

from bitso_platform.resources.postgres_io_manager import PostgresPandasIOManager
from bitso_platform.resources.warehouse import Warehouse

WINDOWS = dg.TimeWindowPartitionsDefinition(
    cron_schedule="*/10 * * * *", start="2024-07-16-22:20", fmt="%Y-%m-%d-%H:%M", timezone="UTC"
)
START = datetime(2024, 7, 16, 22, 20, tzinfo=UTC)


def range_tags(first: str, last: str) -> dict[str, str]:
    return {
        "dagster/asset_partition_range_start": first,
        "dagster/asset_partition_range_end": last,
    }


def stats_asset(
    value: float, *, duplicate: bool = False, shift: timedelta | None = None
) -> dg.AssetsDefinition:
    """A 10-minute-partitioned asset: one row per window and book, with `value`."""

    @dg.asset(
        key=["analytics", "window_values"],
        partitions_def=WINDOWS,
        backfill_policy=dg.BackfillPolicy.single_run(),
        io_manager_key="postgres_io_manager",
        metadata={"partition_expr": "window_start", "primary_key": ["window_start", "book"]},
    )
    def window_values(context: dg.AssetExecutionContext) -> pd.DataFrame:
        window = context.partition_time_window
        starts = pd.date_range(window.start, window.end, freq="10min", inclusive="left")
        frame = pd.DataFrame(
            {
                "window_start": [s for s in starts for _ in ("a_b", "c_d")],
                "book": [b for _ in starts for b in ("a_b", "c_d")],
                "value": value,
                "count_rows": 600,
                "label": "ok",
            }
        )
        if shift is not None:
            frame["window_start"] += shift
        if duplicate:  # the last row repeats a key: the COPY fails at the very end
            frame = pd.concat([frame, frame.tail(1)], ignore_index=True)
        return frame

    return window_values


def rows(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select window_start, book, value, count_rows from analytics.window_values"
            " order by window_start, book"
        ).fetchall()


@pytest.fixture
def resources(warehouse: Warehouse) -> dict[str, object]:
    return {"postgres_io_manager": PostgresPandasIOManager(warehouse=warehouse)}


def test_a_partition_creates_its_typed_keyed_table_and_reports_path_and_row_count(
    resources: dict[str, object], warehouse_url: str
) -> None:
    result = dg.materialize(
        [stats_asset(1.5)], resources=resources, partition_key="2024-07-16-22:30"
    )

    assert rows(warehouse_url) == [
        (START + timedelta(minutes=10), "a_b", 1.5, 600),
        (START + timedelta(minutes=10), "c_d", 1.5, 600),
    ]
    with psycopg.connect(warehouse_url) as conn:
        types = dict(
            conn.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = 'analytics' and table_name = 'window_values'"
            ).fetchall()
        )
        key = conn.execute(
            "select pg_get_constraintdef(oid) from pg_constraint where contype = 'p'"
            " and conrelid = 'analytics.window_values'::regclass"
        ).fetchone()
    assert types == {
        "window_start": "timestamp with time zone",
        "book": "text",
        "value": "double precision",
        "count_rows": "bigint",
        "label": "text",
    }
    assert key == ("PRIMARY KEY (window_start, book)",)
    metadata = result.get_asset_materialization_events()[0].materialization.metadata
    assert metadata["dagster/row_count"].value == 2
    assert str(metadata["path"].value).endswith("/analytics.window_values")
    assert "postgresql://" in str(metadata["path"].value)


def test_a_single_run_backfill_replaces_exactly_its_range(
    resources: dict[str, object], warehouse_url: str
) -> None:
    dg.materialize(
        [stats_asset(1.0)],
        resources=resources,
        tags=range_tags("2024-07-16-22:20", "2024-07-16-23:00"),
    )

    result = dg.materialize(
        [stats_asset(2.0)],
        resources=resources,
        tags=range_tags("2024-07-16-22:30", "2024-07-16-22:40"),
    )

    values = {(at.strftime("%H:%M"), book): value for at, book, value, _ in rows(warehouse_url)}
    assert values == {
        (f"{hour}:{minute}", book): (2.0 if f"{hour}:{minute}" in ("22:30", "22:40") else 1.0)
        for hour, minute in [("22", "20"), ("22", "30"), ("22", "40"), ("22", "50"), ("23", "00")]
        for book in ("a_b", "c_d")
    }
    events = result.get_asset_materialization_events()
    assert len(events) == 2
    assert events[0].materialization.metadata["rows_replaced"].value == 4
    assert {e.materialization.metadata["dagster/row_count"].value for e in events} == {2}


def test_a_copy_failing_at_its_last_row_leaves_the_previous_rows_of_the_range(
    resources: dict[str, object], warehouse_url: str
) -> None:
    tags = range_tags("2024-07-16-22:20", "2024-07-16-22:40")
    dg.materialize([stats_asset(1.0)], resources=resources, tags=tags)
    before = rows(warehouse_url)

    result = dg.materialize(
        [stats_asset(2.0, duplicate=True)], resources=resources, tags=tags, raise_on_error=False
    )

    assert not result.success
    assert "duplicate key" in str(result.get_step_failure_events()[0].event_specific_data.error)  # type: ignore[union-attr]
    assert rows(warehouse_url) == before


def test_rows_outside_the_run_s_windows_are_refused_before_anything_is_written(
    resources: dict[str, object], warehouse_url: str
) -> None:
    dg.materialize([stats_asset(1.0)], resources=resources, partition_key="2024-07-16-22:20")

    result = dg.materialize(
        [stats_asset(2.0, shift=timedelta(minutes=10))],
        resources=resources,
        partition_key="2024-07-16-22:20",
        raise_on_error=False,
    )

    assert not result.success
    assert "outside the run's window" in str(
        result.get_step_failure_events()[0].event_specific_data.error
    )  # type: ignore[union-attr]
    assert {value for _, _, value, _ in rows(warehouse_url)} == {1.0}


def test_a_downstream_asset_reads_the_rows_of_its_partitions(
    resources: dict[str, object], warehouse_url: str
) -> None:
    upstream = stats_asset(3.0)
    dg.materialize(
        [upstream], resources=resources, tags=range_tags("2024-07-16-22:20", "2024-07-16-22:50")
    )
    seen: list[pd.DataFrame] = []

    @dg.asset(partitions_def=WINDOWS, ins={"values": dg.AssetIn(key=upstream.key)})
    def reader(values: pd.DataFrame) -> None:
        seen.append(values)

    dg.materialize(
        [upstream.to_source_asset(), reader],
        resources=resources,
        partition_key="2024-07-16-22:40",
        selection=[reader],
    )

    assert len(seen[0]) == 2 and set(seen[0]["value"]) == {3.0}
    assert seen[0]["window_start"].iloc[0] == START + timedelta(minutes=20)


def test_a_column_the_existing_table_lacks_is_added_and_older_rows_keep_null(
    resources: dict[str, object], warehouse_url: str
) -> None:
    """A new version of an asset writes one more column than the table it created before."""
    with psycopg.connect(warehouse_url) as conn:
        conn.execute("create schema analytics")
        conn.execute(
            "create table analytics.window_values (window_start timestamptz, book text,"
            " value double precision, count_rows bigint, primary key (window_start, book))"
        )
        conn.execute(
            "insert into analytics.window_values values (%s, 'a_b', 1.0, 600)",
            [START],
        )

    dg.materialize([stats_asset(2.5)], resources=resources, partition_key="2024-07-16-22:30")

    with psycopg.connect(warehouse_url) as conn:
        labels = conn.execute(
            "select window_start, book, label from analytics.window_values"
            " order by window_start, book"
        ).fetchall()
    later = START + timedelta(minutes=10)
    assert labels == [(START, "a_b", None), (later, "a_b", "ok"), (later, "c_d", "ok")]
