"""Static checks of the compose deployment: it parses, and everything it names exists."""

import importlib
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from dagster._config import validate_config
from dagster_postgres import DagsterPostgresStorage

from bitso_platform.cli import main

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
EXPECTED = {"postgres", "minio", "minio-buckets", "code", "webserver", "daemon", "ticker"}


def test_the_production_shape_has_every_service() -> None:
    assert set(SERVICES) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_service_has_an_image_or_build_and_a_health_check(name: str) -> None:
    service = SERVICES[name]
    assert "image" in service or "build" in service
    assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_mounted_file_exists(name: str) -> None:
    for volume in SERVICES[name].get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_the_image_builds_from_files_in_the_repo() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY\s+(.+)\s+\S+$", dockerfile, flags=re.MULTILINE):
        for path in source.split():
            assert (ROOT / path).exists(), f"Dockerfile copies missing {path}"


def test_dagster_storage_is_postgres_with_credentials_from_the_environment() -> None:
    instance = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    storage = instance["storage"]["custom"]
    storage_class = getattr(importlib.import_module(storage["module"]), storage["class"])
    assert issubclass(storage_class, DagsterPostgresStorage)
    assert validate_config(storage_class.config_type(), storage["config"]).success
    db = storage["config"]["postgres_db"]
    env = COMPOSE["x-platform"]["environment"]
    for field in ("hostname", "db_name", "username", "password"):
        assert db[field]["env"] in env, f"{field} comes from a variable compose does not set"
    assert int(env["DAGSTER_EVENT_BATCH_SIZE"]) > 0, "backfill events are written in batches"


def test_no_secret_is_written_into_the_repo() -> None:
    env = COMPOSE["x-platform"]["environment"]
    for name in ("DAGSTER_PG_PASSWORD", "AWS_SECRET_ACCESS_KEY"):
        assert env[name].startswith("${"), f"{name} must come from .env"
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()
    example = (ROOT / ".env.example").read_text()
    assert "POSTGRES_PASSWORD=" in example and "MINIO_ROOT_PASSWORD=" in example


def commands(service: dict) -> list[list[str]]:
    """The service's command and health check test, as argument lists."""
    found = [service.get("command", [])]
    test = service.get("healthcheck", {}).get("test", [])
    if test and test[0] == "CMD":
        found.append(test[1:])
    return [command for command in found if isinstance(command, list) and command]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_bitso_command_a_service_runs_exists(name: str) -> None:
    service = {**COMPOSE["x-platform"], **SERVICES[name]}
    for command in commands(service):
        if command[0] == "bitso":
            subcommand = [arg for arg in command[1:] if not arg.startswith("-")][:2]
            result = CliRunner().invoke(main, [*subcommand, "--help"])
            assert result.exit_code == 0, f"{name}: `bitso {' '.join(subcommand)}` does not exist"


def test_the_instance_files_the_services_read_are_baked_into_the_image() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for name in ("webserver", "daemon"):
        for command in commands(SERVICES[name]):
            for arg in command:
                if arg.startswith("/opt/dagster/home/"):
                    file = Path(arg).name
                    assert (ROOT / "deploy" / file).exists()
                    assert f"deploy/{file}" in dockerfile, f"{name} reads {arg}, not copied"


def test_the_workspace_points_at_the_code_service() -> None:
    workspace = yaml.safe_load((ROOT / "deploy" / "workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    assert server["host"] in SERVICES
    assert str(server["port"]) in SERVICES[server["host"]]["command"]
