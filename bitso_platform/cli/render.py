"""How every `bitso` command prints: one table, CSV and JSON writer and one number format.

Tables are for people: integers and decimals with thousands separators (`18,176`,
`4,450,243.79`), floats to six significant digits (`0.00035`), `-` for nothing. JSON and CSV
are for scripts: plain numbers, exact decimals with all their digits (`4450243.79`), no
separators.
"""

import csv
import io
import json
import math
import re
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal

Cell = str | int | float | Decimal | None

_DECIMAL_SLOT = re.compile(r'"\\u0000(\d+)\\u0000"')


def table(rows: Sequence[Sequence[Cell]], header: Sequence[str] | None = None) -> str:
    """Aligned columns two spaces apart. With a header, a column holding numbers is
    right-aligned; without one (key and value lines) every column is left-aligned."""
    shown = [[number_text(cell) for cell in row] for row in rows]
    lines = [list(header), *shown] if header else shown
    if not lines:
        return ""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    right = [bool(header) and any(_is_number(row[i]) for row in rows) for i in range(len(widths))]
    return "\n".join(
        "  ".join(
            text.rjust(width) if to_right else text.ljust(width)
            for text, width, to_right in zip(line, widths, right, strict=True)
        ).rstrip()
        for line in lines
    )


def number_text(value: Cell) -> str:
    """A cell as a table shows it."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, Decimal):
        return _trimmed(format(value, ",f"))
    if isinstance(value, float):
        return _float_text(value)
    return str(value)


def plain(value: object) -> str:
    """A value as CSV writes it: numbers without separators, a list space-separated."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return _trimmed(format(value, "f"))
    if isinstance(value, list | tuple):
        return " ".join(plain(item) for item in value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_text(rows: Sequence[Sequence[object]], header: Sequence[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([plain(value) for value in row] for row in rows)
    return out.getvalue().rstrip("\n")


def json_text(value: object, indent: int | None = None) -> str:
    """JSON with exact decimals written as numbers with all their digits (json.dumps can only
    write floats) and days and instants as ISO-8601 strings."""
    decimals: list[Decimal] = []

    def encode(item: object) -> str:
        if isinstance(item, Decimal):
            decimals.append(item)
            return f"\x00{len(decimals) - 1}\x00"
        if isinstance(item, date | datetime):
            return item.isoformat()
        raise TypeError(f"{type(item).__name__} is not JSON serializable")

    text = json.dumps(value, default=encode, indent=indent)
    return _DECIMAL_SLOT.sub(lambda slot: plain(decimals[int(slot[1])]), text)


def _is_number(value: Cell) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _trimmed(text: str) -> str:
    """No trailing fractional zeros: 6117760.50 as 6117760.5, 12.000 as 12."""
    return text.rstrip("0").rstrip(".") if "." in text else text


def _float_text(value: float) -> str:
    """Six significant digits (as %g), the whole integer part, no exponent: 0.00035, 1.00035,
    12.3457, 1,234,568."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, 5 - math.floor(math.log10(abs(value))))
    return _trimmed(f"{value:,.{decimals}f}")
