"""Versioned SQL files under `sql/`, loaded by name."""

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

# The wheel carries the top-level sql/ as package data here (pyproject.toml force-include).
PACKAGED = "sql_files"
SOURCE_TREE = Path(__file__).resolve().parents[1] / "sql"

# A line `-- check: <name>` opens the SQL of the check <name>, up to the next such line: a
# mart's own checks follow its build statements in its file.
CHECK_MARKER = re.compile(r"^-- check:(.*)$\n?", re.MULTILINE)


@dataclass(frozen=True)
class Sections:
    """A SQL file cut at its check markers: what comes before the first, and each check's SQL."""

    build: str
    checks: dict[str, str]


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


@cache
def sql_sections(name: str) -> Sections:
    """`sql/<name>.sql` cut at its `-- check: <check>` lines (a file without one is all build).

    A marker without a name, or a name given twice, is refused.
    """
    build, *parts = CHECK_MARKER.split(load_sql(name))
    names = [part.strip() for part in parts[::2]]
    malformed = [check for check in names if not check.isidentifier()]
    repeated = {check for check in names if names.count(check) > 1}
    if malformed or repeated:
        raise ValueError(
            f"sql/{name}.sql: check markers must be `-- check: <name>`, each name once;"
            f" malformed {malformed}, repeated {sorted(repeated)}"
        )
    return Sections(build, dict(zip(names, parts[1::2], strict=True)))
