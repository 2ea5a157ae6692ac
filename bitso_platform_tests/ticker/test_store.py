"""The observations table: created idempotently, written idempotently."""

from datetime import date
from pathlib import Path

import psycopg
import pytest

from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.ticker.records import Quote, SpreadRecord
from bitso_platform.ticker.store import ObservationStore, create_table, drop_day, stored_days


def records() -> list[SpreadRecord]:
    quote = Quote("btc_mxn", 1135939.98, 1135940.02, 1721168649.25, 1721168649.3, "ws")
    return [SpreadRecord.covered(1721168649, quote), SpreadRecord.gap(1721168649, "usd_mxn")]


def test_writing_the_same_seconds_twice_stores_them_once(warehouse: Warehouse) -> None:
    store = ObservationStore(warehouse.resolved_url())

    first = store.write(records())
    second = store.write(records())
    store.close()

    assert (first, second) == (2, 0)
    with warehouse.connection() as conn:
        create_table(conn)  # idempotent
        rows = conn.execute(
            "select observation_id, book, orderbook_timestamp::text, bid, spread, is_gap"
            " from ticker.spread_observations order by observation_id"
        ).fetchall()
    assert rows == [
        (
            1,
            "btc_mxn",
            "2024-07-16 22:24:09+00",
            1135939.98,
            pytest.approx(3.52e-6, rel=1e-2),
            False,
        ),
        (2, "usd_mxn", "2024-07-16 22:24:09+00", None, None, True),
    ]


def test_a_gap_row_with_a_price_is_refused_by_the_table(warehouse: Warehouse) -> None:
    with warehouse.connection() as conn:
        create_table(conn)
    store = ObservationStore(warehouse.resolved_url())
    gap = SpreadRecord.gap(1721168649, "usd_mxn")
    invented = SpreadRecord(**{**{f: getattr(gap, f) for f in gap.__slots__}, "bid": 17.6})

    with pytest.raises(psycopg.errors.CheckViolation):
        store.write([invented])
    store.close()


def partitions(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "select child.relname from pg_inherits"
        " join pg_class as child on child.oid = pg_inherits.inhrelid"
        " where inhparent = 'ticker.spread_observations'::regclass order by 1"
    ).fetchall()
    return [name for (name,) in rows]


def test_a_write_creates_the_partitions_of_its_day_and_the_next(warehouse: Warehouse) -> None:
    store = ObservationStore(warehouse.resolved_url())
    store.write(records())  # 2024-07-16
    store.write([SpreadRecord.gap(1721260800, "btc_mxn")])  # 2024-07-18 00:00:00
    store.close()

    with warehouse.connection() as conn:
        kind = conn.execute(
            "select relkind from pg_class where oid = 'ticker.spread_observations'::regclass"
        ).fetchone()
        assert kind == ("p",)
        assert {
            "spread_observations_20240716",
            "spread_observations_20240717",
            "spread_observations_20240718",
            "spread_observations_20240719",
        } <= set(partitions(conn))
        assert conn.execute(
            "select tableoid::regclass::text, count(*) from ticker.spread_observations"
            " group by 1 order by 1"
        ).fetchall() == [
            ("ticker.spread_observations_20240716", 2),
            ("ticker.spread_observations_20240718", 1),
        ]


def test_an_unpartitioned_table_is_moved_into_day_partitions_keeping_its_ids(
    warehouse: Warehouse,
) -> None:
    """A warehouse of an earlier version: its rows move, ids kept, and new ids follow them."""
    old = Path(__file__).with_name("unpartitioned_spread_observations.sql").read_text()
    with warehouse.connection() as conn:
        conn.execute(old)
        conn.execute(
            "insert into ticker.spread_observations (orderbook_timestamp, book, is_gap)"
            " values ('2024-07-16 23:59:59+00', 'btc_mxn', true),"
            " ('2024-07-17 00:00:00+00', 'btc_mxn', true)"
        )
    with warehouse.connection() as conn:
        create_table(conn)
        create_table(conn)  # idempotent once migrated
    store = ObservationStore(warehouse.resolved_url())
    store.write([SpreadRecord.gap(1721174400 + 1, "btc_mxn")])  # 2024-07-17 00:00:01
    store.close()

    with warehouse.connection() as conn:
        rows = conn.execute(
            "select observation_id, orderbook_timestamp::text, tableoid::regclass::text"
            " from ticker.spread_observations order by observation_id"
        ).fetchall()
        leftover = conn.execute("select to_regclass('ticker.spread_observations_unpartitioned')")
        assert leftover.fetchone() == (None,)
    assert rows == [
        (1, "2024-07-16 23:59:59+00", "ticker.spread_observations_20240716"),
        (2, "2024-07-17 00:00:00+00", "ticker.spread_observations_20240717"),
        (3, "2024-07-17 00:00:01+00", "ticker.spread_observations_20240717"),
    ]


def test_dropping_a_day_removes_its_observations_and_nothing_else(warehouse: Warehouse) -> None:
    store = ObservationStore(warehouse.resolved_url())
    store.write([*records(), SpreadRecord.gap(1721260800, "btc_mxn")])  # 07-16 and 07-18
    store.close()

    with warehouse.connection() as conn:
        drop_day(conn, date(2024, 7, 16))
        drop_day(conn, date(2024, 7, 16))  # already gone: nothing to do
        days = stored_days(conn)
        left = conn.execute("select orderbook_timestamp::text from ticker.spread_observations")
        assert left.fetchall() == [("2024-07-18 00:00:00+00",)]
    assert date(2024, 7, 16) not in days
    assert {date(2024, 7, 17), date(2024, 7, 18)} <= set(days)
