"""A small, realistic world for the marts tests: generated snapshots plus hand-made edge rows,
loaded through Dagster into real Postgres, and template databases to copy it from quickly."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from bitso_platform.definitions import defs
from bitso_platform.defs.marts.assets import rebuild, tidy
from bitso_platform.defs.marts.catalog import MARTS
from bitso_platform.defs.marts.partitions import Window
from bitso_platform.devtools.generate import generate_snapshots
from bitso_platform.resources.warehouse import Warehouse

FIRST_DAY = date(2020, 1, 1)
LAST_FACT_DAY = date(2023, 8, 23)
# Built past the last fact so that days without any activity are part of the marts.
LAST_BUILT_DAY = date(2023, 9, 10)
BURST_DAY = date(2021, 2, 19)

HEAVY = "aaaa0000000000000000000000000001"  # first instant, day shifts, 8 deposits by the end
IDLE = "bbbb0000000000000000000000000002"  # in the users snapshot, nothing else
FAILED_ONLY = "cccc0000000000000000000000000003"  # failed deposits and non-login events only
UPPER = "DDDD0000000000000000000000000004"  # upper-case hex: sorts before every lower-case id
EDGE_USERS = (HEAVY, IDLE, FAILED_ONLY, UPPER)

EDGE_ROWS = {
    "user_id_sample_data.csv": [[user] for user in EDGE_USERS],
    "deposit_sample_data.csv": [
        [900001, "2020-01-01 00:00:00+00", HEAVY, "100.10", "mxn", "complete"],
        # 23:30 in Mexico City is the next UTC day; ' MXN' is clean and counts as mxn.
        [900002, "2021-03-01 23:30:00-06", HEAVY, "0.005", " MXN", "complete"],
        [900003, "2021-03-02 10:00:00+00", HEAVY, "1", "btc", "failed"],
        *[
            [900010 + n, f"2023-08-23 0{n}:15:00+00", HEAVY, "0.1", "btc", "complete"]
            for n in range(6)
        ],
        [900020, "2021-02-19 10:00:00+00", FAILED_ONLY, "50", "usd", "failed"],
        [900021, "2021-02-19 23:59:59.999+00", UPPER, "10", "eur", "complete"],
    ],
    "withdrawals_sample_data.csv": [
        [900101, "2023-08-23 23:59:59.999999+00", HEAVY, "0.25", "api", "btc", "complete"],
        [900102, "2022-05-20 12:00:00+00", HEAVY, "5", "web", "mxn", "failed"],
    ],
    "event_sample_data.csv": [
        [900201, "2020-01-01 00:00:00+00", HEAVY, "login"],
        [900208, "2021-02-19 12:00:00+00", HEAVY, "login"],
        [900202, "2022-04-12 12:48:02.186+00", HEAVY, "login"],
        [900203, "2022-04-12 09:00:00-02", HEAVY, "login"],
        [900204, "2022-04-13 00:00:00+00", HEAVY, "2falogin"],
        [900205, "2021-02-19 08:00:00+00", FAILED_ONLY, "2falogin"],
        [900206, "2021-02-19 08:05:00+00", FAILED_ONLY, "password_reset"],
        [900207, "2021-02-20 00:00:00+00", UPPER, "login"],
    ],
}


def write_snapshots(folder: Path, *, scale: float = 0.03, seed: int = 7) -> Path:
    """Generated snapshots with the edge rows appended to their files."""
    generate_snapshots(folder, scale=scale, seed=seed)
    for file, rows in EDGE_ROWS.items():
        with (folder / file).open("a") as out:
            out.writelines(",".join(str(field) for field in row) + "\n" for row in rows)
    return folder


def load(monkeypatch: pytest.MonkeyPatch, warehouse_url: str, snapshots: Path) -> None:
    """Snapshots and core through the code location's load_snapshots job."""
    monkeypatch.setenv("BITSO_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("BITSO_SNAPSHOTS_URL", str(snapshots))
    job = defs().resolve_job_def("load_snapshots")
    result = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert result.success, "loading the test snapshots failed"


def build(warehouse_url: str, first: date = FIRST_DAY, last: date = LAST_BUILT_DAY) -> None:
    """Every mart over first..last with the assets' own SQL path, without Dagster's per-day
    bookkeeping (the Dagster path has tests of its own)."""
    warehouse = Warehouse(url=warehouse_url)
    window = Window(first, date.fromordinal(last.toordinal() + 1))
    for mart in MARTS:
        rebuild(warehouse, mart, window)
        tidy(warehouse, mart, window)


@dataclass(frozen=True)
class Templates:
    """Databases to copy: `loaded` holds snapshots and core, `built` also the marts."""

    server_url: str
    loaded: str
    built: str

    def copy(self, template: str, create: Callable[[], str]) -> str:
        """A new database holding a copy of the template (CREATE DATABASE ... TEMPLATE)."""
        url = create()
        name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
        with psycopg.connect(self.server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database {}").format(sql.Identifier(name)))
            admin.execute(
                sql.SQL("create database {} template {}").format(
                    sql.Identifier(name), sql.Identifier(_name(template))
                )
            )
        return url


def _name(url: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(url)["dbname"]


@contextmanager
def templates(server_url: str, create: Callable[[], str], snapshots: Path) -> Iterator[Templates]:
    """Load the world once into `loaded`, then copy it into `built` and build the marts."""
    loaded = create()
    with pytest.MonkeyPatch.context() as monkeypatch:
        load(monkeypatch, loaded, snapshots)
    world = Templates(server_url, loaded, "")
    built = world.copy(loaded, create)
    build(built)
    yield Templates(server_url, loaded, built)
