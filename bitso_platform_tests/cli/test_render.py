"""One number format: separators in tables, plain numbers in JSON and CSV."""

import json
from decimal import Decimal

from bitso_platform.cli import render


def test_tables_write_numbers_with_thousands_separators_and_floats_to_six_digits() -> None:
    cells = [18176, Decimal("4450243.790000"), 0.0000035, 1.00035, 12.345678, 4450243.79, None]
    assert [render.number_text(cell) for cell in cells] == [
        "18,176",
        "4,450,243.79",
        "0.0000035",
        "1.00035",
        "12.3457",
        "4,450,244",
        "-",
    ]


def test_json_and_csv_write_plain_numbers_and_exact_decimals() -> None:
    amount = Decimal("6117760.500000000000000000")
    text = render.json_text({"answer": amount, "count": 18176, "items": [Decimal("1E+12")]})
    assert text == '{"answer": 6117760.5, "count": 18176, "items": [1000000000000]}'
    assert json.loads(text, parse_float=Decimal)["answer"] == amount
    assert render.csv_text([[amount, 18176, None, ["a", "b"]]], header=["x", "n", "z", "l"]) == (
        "x,n,z,l\n6117760.5,18176,,a b"
    )


def test_a_table_with_a_header_right_aligns_its_number_columns() -> None:
    rows = [("marts/daily_kpis", 1234567, 0.5), ("marts/user_segments", "view", 12.25)]
    assert render.table(rows, header=("mart", "rows", "seconds")).splitlines() == [
        "mart                      rows  seconds",
        "marts/daily_kpis     1,234,567      0.5",
        "marts/user_segments       view    12.25",
    ]


def test_a_table_without_a_header_is_key_and_value_lines() -> None:
    assert render.table([("question", "active-users"), ("answer", 3169)]).splitlines() == [
        "question  active-users",
        "answer    3,169",
    ]
