"""Real services for the tests: Postgres and an S3 API endpoint, both on loopback.

Postgres is the server at 127.0.0.1:5432 when it answers (override with
BITSO_TEST_POSTGRES_URL), otherwise the embedded server; every test that asks for
`warehouse` gets a database of its own, dropped afterwards. S3 is moto's standalone
server, started once per session on a free loopback port.
"""

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import psycopg
import pytest
from psycopg import sql

from bitso_platform.resources.warehouse import Warehouse, embedded_url
from bitso_platform_tests.wheel import build_wheel, install

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real"
REAL_SNAPSHOTS = FIXTURES / "snapshots"
REAL_TICKER = FIXTURES / "ticker" / "spread_observations_2024-07-16_17.csv"


def _server_url(tmp_root: Path) -> str:
    configured = os.environ.get("BITSO_TEST_POSTGRES_URL")
    if configured:
        return configured
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
        return "postgresql://postgres@127.0.0.1:5432/postgres"
    except OSError:
        return embedded_url(tmp_root / "pg")


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Admin URL of the Postgres server the tests run on."""
    return _server_url(tmp_path_factory.mktemp("embedded"))


def _with_database(url: str, database: str) -> str:
    return psycopg.conninfo.make_conninfo(url, dbname=database)


@contextmanager
def temporary_databases(server_url: str) -> Iterator[Callable[[], str]]:
    """A factory of new, empty databases on `server_url`, all dropped at exit."""
    created: list[str] = []

    def create() -> str:
        name = f"bitso_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        created.append(name)
        return _with_database(server_url, name)

    try:
        yield create
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            for name in created:
                admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def new_database_url(postgres_server_url: str) -> Iterator[Callable[[], str]]:
    """A factory of new, empty databases, all dropped after the test."""
    with temporary_databases(postgres_server_url) as create:
        yield create


@pytest.fixture
def warehouse_url(new_database_url: Callable[[], str]) -> str:
    """URL of a new, empty database, dropped after the test."""
    return new_database_url()


@pytest.fixture
def warehouse(warehouse_url: str) -> Warehouse:
    return Warehouse(url=warehouse_url)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Endpoint URL of a real S3 API server (moto standalone) on loopback."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str) -> str:
    """A new, empty bucket on the S3 test server."""
    name = f"bitso-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this source tree."""
    return build_wheel(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def installed_bin(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin directory of a fresh virtual environment holding the wheel and the locked
    runtime dependencies, as the image installs them."""
    return install(wheel, tmp_path_factory.mktemp("installed") / "venv")
