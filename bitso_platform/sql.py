"""Versioned SQL files under `sql/`, loaded by name."""

from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

# The wheel carries the top-level sql/ as package data here (pyproject.toml force-include).
PACKAGED = "sql_files"
SOURCE_TREE = Path(__file__).resolve().parents[1] / "sql"


@cache
def sql_root() -> Traversable:
    """The SQL files of an installed wheel, else those of the source tree (editable install)."""
    packaged = resources.files("bitso_platform") / PACKAGED
    return packaged if packaged.is_dir() else SOURCE_TREE


@cache
def load_sql(name: str) -> str:
    """Text of `sql/<name>.sql`, e.g. `load_sql("core/transactions")`."""
    path = sql_root().joinpath(*f"{name}.sql".split("/"))
    if not path.is_file():
        raise FileNotFoundError(f"SQL file {name}.sql does not exist in {sql_root()}")
    return path.read_text()
