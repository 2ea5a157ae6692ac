"""The observations table: created idempotently, written idempotently."""

import psycopg
import pytest

from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.ticker.records import Quote, SpreadRecord
from bitso_platform.ticker.store import ObservationStore, create_table


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
