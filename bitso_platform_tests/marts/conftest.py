"""Fixtures of the marts tests: copies of a loaded (or loaded and built) world."""

from collections.abc import Callable, Iterator

import pytest

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
