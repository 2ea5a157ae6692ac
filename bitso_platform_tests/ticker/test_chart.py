"""Spread charts drawn from window records: what a person opening the SVG sees."""

import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from bitso_platform.ticker.chart import MINUTE, percent, spread_chart_svg, spread_series

START = datetime(2024, 7, 16, 22, 20, tzinfo=UTC)
END = START + timedelta(minutes=10)


def records(spreads: dict[int, float | None], book: str = "btc_mxn") -> pd.DataFrame:
    """Lake records of the window: second offset -> spread, None for a gap record."""
    return pd.DataFrame(
        {
            "orderbook_timestamp": [
                (START + timedelta(seconds=s)).isoformat() for s in sorted(spreads)
            ],
            "book": book,
            "spread": [spreads[s] for s in sorted(spreads)],
            "is_gap": [spreads[s] is None for s in sorted(spreads)],
        }
    )


def test_thresholds_inside_the_chart_are_lines_and_those_far_above_are_named_in_a_note() -> None:
    series = spread_series(records({0: 0.2, 1: 0.3, 2: None}), "btc_mxn", START, END)

    svg = spread_chart_svg(series, (0.1, 0.5, 1.0)).decode()

    assert "alert thresholds 0.1 %" in svg
    assert "alert thresholds above the chart: 0.5 %, 1 %" in svg
    assert "max 0.3 % · mean 0.25 % · 2 of 600 seconds quoted" in svg


def test_a_spread_is_printed_with_significant_digits_never_rounded_to_zero() -> None:
    assert percent(0.0000035213126866727438) == "0.00000352 %"
    assert percent(0.00035) == "0.00035 %"
    assert percent(11.846798220993998) == "11.8 %"
    assert percent(1.0) == "1 %"


def test_the_chart_is_a_self_contained_file_and_the_same_records_give_the_same_bytes() -> None:
    frame = records({s: 0.1 + s / 1000 for s in range(0, 600, 2)})
    series = spread_series(frame, "btc_mxn", START, END)

    first = spread_chart_svg(series, (0.1, 0.5, 1.0))
    second = spread_chart_svg(spread_series(frame, "btc_mxn", START, END), (0.1, 0.5, 1.0))

    assert first == second
    svg = first.decode()
    assert "<script" not in svg and "<image" not in svg and "@import" not in svg
    assert all(link.startswith("#") for link in re.findall(r'href="([^"]*)"', svg))


def test_a_day_chart_keeps_a_one_second_spike_at_its_full_height() -> None:
    spike = {0: 0.05, 61: 11.8, 62: 0.05}
    day = START.replace(hour=0, minute=0)
    frame = records(spike).assign(
        orderbook_timestamp=[(day + timedelta(seconds=s)).isoformat() for s in sorted(spike)]
    )

    series = spread_series(frame, "btc_mxn", day, day + timedelta(days=1), MINUTE)

    assert len(series.values) == 1440
    assert series.values[:2].tolist() == [0.05, 11.8]
    assert np.isnan(series.values[2:]).all()  # minutes without a quote stay gaps
    assert (series.max_spread, series.quoted_seconds) == (11.8, 3)


def test_records_of_other_books_and_other_windows_are_not_charted() -> None:
    frame = pd.concat(
        [
            records({0: 0.2}),
            records({1: 5.0}, book="usd_mxn"),
            records({0: 9.0}).assign(orderbook_timestamp=END.isoformat()),
        ]
    )

    series = spread_series(frame, "btc_mxn", START, END)

    assert (series.max_spread, series.quoted_seconds) == (0.2, 1)
