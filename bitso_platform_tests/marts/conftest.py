"""Fixtures of the marts tests: copies of a loaded (or loaded and built) world."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import URL

from bitso_platform_tests.conftest import temporary_databases
from bitso_platform_tests.marts import world


@pytest.fixture(scope="package")
def templates(
    postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[world.Templates]:
    snapshots = world.write_snapshots(tmp_path_factory.mktemp("marts_snapshots"))
    with (
        temporary_databases(postgres_server_url) as create,
        world.templates(postgres_server_url, create, snapshots) as loaded_and_built,
    ):
        yield loaded_and_built


@pytest.fixture
def loaded_url(templates: world.Templates, new_database_url: Callable[[], str]) -> str:
    """A new database holding the world's snapshots and core, no marts."""
    return templates.copy(templates.loaded, new_database_url)


@pytest.fixture
def built_url(templates: world.Templates, new_database_url: Callable[[], str]) -> str:
    """A new database holding the world with every mart built for its whole range."""
    return templates.copy(templates.built, new_database_url)


@pytest.fixture
def dagster_home(
    tmp_path_factory: pytest.TempPathFactory, new_database_url: Callable[[], str]
) -> Path:
    """A Dagster home whose instance stores runs and events as deployed (in Postgres, pooled):
    a range run records an evaluation per check and day, which SQLite writes far slower."""
    home = tmp_path_factory.mktemp("dagster")
    storage = {
        "module": "bitso_platform.dagster_storage",
        "class": "BulkPlannedPostgresStorage",
        "config": {"postgres_url": _sqlalchemy_url(new_database_url())},
    }
    config = {"telemetry": {"enabled": False}, "storage": {"custom": storage}}
    (home / "dagster.yaml").write_text(json.dumps(config))
    return home


def _sqlalchemy_url(conninfo: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(conninfo)
    host = str(info.get("host") or "")
    socket_dir = host.startswith("/")  # the embedded server listens on a socket
    return URL.create(
        "postgresql",
        username=info.get("user"),
        password=info.get("password"),
        host=None if socket_dir else host or None,
        port=int(info["port"]) if info.get("port") else None,
        database=info.get("dbname"),
        query={"host": host} if socket_dir else {},
    ).render_as_string(hide_password=False)
