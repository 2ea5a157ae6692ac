"""Versioned SQL files under `sql/`, loaded by name."""

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"


@cache
def load_sql(name: str) -> str:
    """Text of `sql/<name>.sql`, e.g. `load_sql("core/transactions")`."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {path} does not exist")
    return path.read_text()
