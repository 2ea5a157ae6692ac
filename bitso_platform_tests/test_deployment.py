"""Static checks of the compose deployment: it parses, and everything it names exists.

There is no Docker engine in the test bed: what can run without one (the preflight and S3
identity scripts, the bucket and seeding logic of deploy/stack.py) runs here for real, the
latter against the S3 test server.
"""

import importlib
import importlib.util
import json
import re
import secrets
import subprocess
from pathlib import Path
from types import ModuleType

import boto3
import pytest
import yaml
from click.testing import CliRunner
from dagster._config import validate_config
from dagster_aws.s3 import S3Resource
from dagster_postgres import DagsterPostgresStorage

from bitso_platform.cli import main
from bitso_platform.resources.snapshots import SnapshotSource
from bitso_platform.settings import load_settings
from bitso_platform.snapshots.spec import USERS, WITHDRAWALS
from bitso_platform_tests.conftest import REAL_SNAPSHOTS
from bitso_platform_tests.wheel import UV

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]
ONE_SHOT = {"preflight", "s3-buckets"}
LONG_RUNNING = {"postgres", "seaweedfs", "code", "webserver", "daemon", "ticker"}
EXPECTED = ONE_SHOT | LONG_RUNNING
EXAMPLE = dict(
    line.split("=", 1)
    for line in (ROOT / ".env.example").read_text().splitlines()
    if "=" in line and not line.startswith("#")
)
CREDENTIALS = sorted(
    name for name in EXAMPLE if re.search(r"_(USER|ACCESS_KEY|PASSWORD|SECRET_KEY)$", name)
)


def test_the_production_shape_has_every_service() -> None:
    assert set(SERVICES) == EXPECTED


@pytest.mark.parametrize("name", sorted(LONG_RUNNING))
def test_every_service_has_an_image_or_build_and_a_health_check(name: str) -> None:
    service = SERVICES[name]
    assert "image" in service or "build" in service
    assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"


@pytest.mark.parametrize("name", sorted(ONE_SHOT))
def test_one_shot_services_run_once_and_their_dependents_wait_for_success(name: str) -> None:
    assert SERVICES[name]["restart"] == "no"
    waits = {
        other: s["depends_on"][name]
        for other, s in SERVICES.items()
        if name in s.get("depends_on", {})
    }
    assert waits, f"nothing waits for {name}"
    assert set(map(str, waits.values())) == {"{'condition': 'service_completed_successfully'}"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_image_is_pinned_to_a_version_and_none_is_minio(name: str) -> None:
    service = SERVICES[name]
    image = service["image"]
    repository, _, tag = image.rpartition(":")
    assert repository and tag and tag != "latest", f"{name}: {image} has no explicit tag"
    assert "minio" not in image.lower() and not repository.endswith("/mc"), f"{name}: {image}"
    if "build" not in service:  # pulled, not built here: a released version
        assert re.fullmatch(r"\d+(\.\d+)+(-[a-z0-9]+)?", tag), f"{name}: {image} is not a version"


def test_the_s3_api_is_published_on_the_port_the_platform_uses() -> None:
    endpoint = COMPOSE["x-platform"]["environment"]["BITSO_S3_ENDPOINT_URL"]
    host, port = re.fullmatch(r"http://([a-z0-9-]+):(\d+)", endpoint).groups()  # type: ignore[union-attr]
    assert host in SERVICES
    published = [str(mapping).rsplit(":", 1)[1] for mapping in SERVICES[host]["ports"]]
    assert port in published


def depends_on(name: str) -> set[str]:
    """Every service `name` waits for, directly or through others."""
    direct = set(SERVICES[name].get("depends_on", {}))  # merge keys (<<) are resolved
    return direct.union(*(depends_on(other) for other in direct))


@pytest.mark.parametrize("name", sorted(EXPECTED - {"preflight"}))
def test_no_service_starts_before_the_preflight_check_succeeds(name: str) -> None:
    assert "preflight" in depends_on(name)


def preflight(values: dict[str, str]) -> subprocess.CompletedProcess:
    """deploy/preflight.sh as the preflight service runs it, with `values` as its environment."""
    service = SERVICES["preflight"]
    assert set(CREDENTIALS) <= set(service["environment"]), "preflight sees every credential"
    return subprocess.run(
        ["sh", str(ROOT / "deploy" / "preflight.sh"), str(ROOT / ".env.example")],
        env={"PATH": "/usr/bin:/bin", **values},
        capture_output=True,
        text=True,
        check=False,
    )


def real_credentials() -> dict[str, str]:
    return {
        name: secrets.token_hex(12) if name.endswith(("PASSWORD", "SECRET_KEY")) else f"u{i}"
        for i, name in enumerate(CREDENTIALS)
    }


def test_the_stack_refuses_to_start_with_the_example_passwords() -> None:
    result = preflight(EXAMPLE)

    assert result.returncode == 1
    for name in CREDENTIALS:
        if name.endswith(("PASSWORD", "SECRET_KEY")):
            assert f"{name} is still the example value" in result.stderr


def test_the_stack_refuses_to_start_with_an_empty_or_url_breaking_password() -> None:
    assert "POSTGRES_PASSWORD is empty" in preflight({}).stderr
    unsafe = preflight({**real_credentials(), "POSTGRES_PASSWORD": "p@ss/word:0123456789"})
    assert unsafe.returncode == 1 and "POSTGRES_PASSWORD may only use" in unsafe.stderr


def test_the_stack_refuses_to_give_the_platform_the_admin_s3_key() -> None:
    values = real_credentials()
    result = preflight({**values, "S3_APP_ACCESS_KEY": values["S3_ADMIN_ACCESS_KEY"]})

    assert result.returncode == 1 and "S3_APP_ACCESS_KEY must differ" in result.stderr


def test_the_stack_starts_with_real_credentials() -> None:
    result = preflight(real_credentials())

    assert result.returncode == 0, result.stderr


def test_the_platform_uses_its_own_bucket_scoped_s3_key_not_the_admin_one() -> None:
    env = COMPOSE["x-platform"]["environment"]
    assert "S3_APP_ACCESS_KEY" in env["AWS_ACCESS_KEY_ID"]
    assert "S3_APP_SECRET_KEY" in env["AWS_SECRET_ACCESS_KEY"]
    platform_text = yaml.safe_dump(COMPOSE["x-platform"])
    assert "S3_ADMIN" not in platform_text
    assert EXAMPLE["S3_APP_ACCESS_KEY"] != EXAMPLE["S3_ADMIN_ACCESS_KEY"]

    store = SERVICES["seaweedfs"]
    identities = subprocess.run(
        ["sh", str(ROOT / "deploy" / "seaweedfs" / "s3-identities.sh")],
        env={"PATH": "/usr/bin:/bin", **store["environment"], **real_credentials()},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    by_name = {identity["name"]: identity for identity in json.loads(identities)["identities"]}
    app = next(i for i in by_name.values() if "Admin" not in i["actions"])
    buckets = {url.split("/")[2] for url in (env["BITSO_LAKE_URL"], env["BITSO_SNAPSHOTS_URL"])}
    assert set(store["environment"]["S3_BUCKETS"].split()) == buckets == set(stack().BUCKETS)
    assert {action.split(":")[1] for action in app["actions"]} == buckets, "every action is scoped"
    assert "anonymous" not in by_name


def test_the_deployment_writes_every_window_of_its_sampler() -> None:
    env = COMPOSE["x-platform"]["environment"]  # the code location's, the sampler's
    settings = load_settings(
        {"BITSO_TICKER_WINDOWS_SCHEDULE": env["BITSO_TICKER_WINDOWS_SCHEDULE"]}
    )

    assert settings.ticker_windows_schedule == "running"
    assert SERVICES["code"]["environment"] == SERVICES["ticker"]["environment"] == env


def stack() -> ModuleType:
    """deploy/stack.py, as the s3-buckets service and the demo run it."""
    spec = importlib.util.spec_from_file_location("stack", ROOT / "deploy" / "stack.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def test_the_bucket_service_creates_the_missing_buckets_and_can_run_again(
    s3_endpoint: str,
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    names = [f"bitso-stack-{secrets.token_hex(4)}", f"bitso-stack-{secrets.token_hex(4)}"]

    assert stack().create_buckets(s3, names) == names
    assert stack().create_buckets(s3, names) == []
    assert set(names) <= {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}


def test_the_demo_seeds_the_snapshots_where_the_stack_loads_them_from(
    s3_endpoint: str, s3_bucket: str
) -> None:
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)

    keys = stack().upload_snapshots(s3, REAL_SNAPSHOTS, bucket=s3_bucket)

    source = SnapshotSource(url=f"s3://{s3_bucket}/latest", s3=S3Resource(endpoint_url=s3_endpoint))
    assert keys == sorted(f"latest/{file.name}" for file in REAL_SNAPSHOTS.glob("*.csv"))
    assert source.has(USERS) and source.has(WITHDRAWALS)
    assert (
        stack().SNAPSHOTS_PREFIX.rstrip("/")
        == COMPOSE["x-platform"]["environment"]["BITSO_SNAPSHOTS_URL"].rsplit("/", 1)[1]
    )


def test_the_demo_refuses_an_empty_snapshot_folder(s3_endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="bitso generate"):
        stack().upload_snapshots(boto3.client("s3", endpoint_url=s3_endpoint), tmp_path)


def test_the_demo_reads_the_credentials_from_the_env_file() -> None:
    assert stack().read_env_file(ROOT / ".env.example") == EXAMPLE


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_script_a_service_runs_is_mounted_into_it(name: str) -> None:
    service = SERVICES[name]
    targets = {str(volume).split(":")[1] for volume in service.get("volumes", [])}
    words = " ".join(
        str(part) for key in ("entrypoint", "command") for part in _as_list(service.get(key))
    ).split()
    for word in words:
        if word.startswith(REPO_MOUNTS):
            assert word in targets, f"{name} runs {word}, which is not mounted"


REPO_MOUNTS = ("/opt/deploy/", "/preflight/")  # where services find the repository files mounted


def _as_list(value: object) -> list[object]:
    return value if isinstance(value, list) else [value] if value else []


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


def test_the_image_and_make_install_compile_the_dependencies_bytecode() -> None:
    """Where Python writes no bytecode (the image's PYTHONDONTWRITEBYTECODE and non-root
    user, CI) each process would otherwise compile Dagster's modules again when it starts."""
    dockerfile = (ROOT / "Dockerfile").read_text()
    env = dockerfile[dockerfile.index("ENV ") : dockerfile.index("RUN ")]
    assert re.search(r"\bUV_COMPILE_BYTECODE=1\b", env), "the image's uv installs compile"
    install = subprocess.run(
        ["make", "-n", "-B", "install", f"UV={UV}"], cwd=ROOT, capture_output=True, text=True
    )
    sync = [line for line in install.stdout.splitlines() if " sync " in line]
    assert sync and all("--compile-bytecode" in line for line in sync), install.stdout


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


def test_the_warehouse_server_learns_the_hosts_page_cache_from_the_env_file() -> None:
    # At Postgres' default (4GB), below the largest mart at scale 100, the planner sorts the
    # per-account features of a day instead of reading their key (docs/operations.md).
    settings = SERVICES["postgres"]["command"][1:]
    assert "effective_cache_size=${POSTGRES_EFFECTIVE_CACHE_SIZE:-4GB}" in settings
    assert EXAMPLE["POSTGRES_EFFECTIVE_CACHE_SIZE"] == "4GB"


def test_no_secret_is_written_into_the_repo() -> None:
    env = COMPOSE["x-platform"]["environment"]
    for name in ("DAGSTER_PG_PASSWORD", "AWS_SECRET_ACCESS_KEY"):
        assert env[name].startswith("${"), f"{name} must come from .env"
    assert not (ROOT / ".env").exists() or ".env" in (ROOT / ".gitignore").read_text()
    assert {"POSTGRES_PASSWORD", "S3_ADMIN_SECRET_KEY", "S3_APP_SECRET_KEY"} <= set(EXAMPLE)


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
