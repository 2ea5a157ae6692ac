"""One settings object: every BITSO_* variable parsed, defaulted and validated in one place."""

import ast
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from bitso_platform.cli import main
from bitso_platform.defs.resources import build_resources
from bitso_platform.resources.lake import Lake
from bitso_platform.settings import Settings, SettingsError, load_settings
from bitso_platform.ticker.alerts import Thresholds
from bitso_platform.ticker.config import ExchangeSettings

REPOSITORY = Path(__file__).resolve().parents[1]

# (variable, refused value, a fragment of what the error says is allowed)
BAD_VALUES = [
    ("BITSO_LAKE_URL", "ftp://evil/x", "s3://bucket[/prefix] or a local folder"),
    ("BITSO_LAKE_URL", "s3://", "s3://bucket[/prefix] or a local folder"),
    ("BITSO_LAKE_URL", "s3://No_Such/lake", "s3://bucket[/prefix] or a local folder"),
    ("BITSO_LAKE_URL", "/dev/null/lake", "/dev/null is a file, not a folder"),
    ("BITSO_SNAPSHOTS_URL", "https://example.com/drop", "s3://bucket[/prefix] or a local folder"),
    ("BITSO_SPREAD_THRESHOLDS", ";;", "percent thresholds as `0.1,0.5,1.0`"),
    ("BITSO_SPREAD_THRESHOLDS", "0.1,-2", "positive percents"),
    ("BITSO_ALERT_QUIET_SECONDS", "abc", "whole number of seconds from 0 to 86400"),
    ("BITSO_ALERT_QUIET_SECONDS", "-5", "whole number of seconds from 0 to 86400"),
    ("BITSO_ALERT_QUIET_SECONDS", "1e9", "whole number of seconds from 0 to 86400"),
    ("BITSO_BOOKS", "btc-mxn", "comma-separated Bitso books such as btc_mxn,usd_mxn"),
    ("BITSO_BOOKS", ",", "comma-separated Bitso books such as btc_mxn,usd_mxn"),
    ("BITSO_API_URL", "ftp://api.bitso.com", "http://HOST[:PORT]/… or https://"),
    ("BITSO_API_URL", "http://", "http://HOST[:PORT]/… or https://"),
    ("BITSO_WS_URL", "https://ws.bitso.com", "ws://HOST[:PORT]/… or wss://"),
    ("BITSO_WS_URL", "ws://127.0.0.1:99999/", "not a URL"),
    ("BITSO_S3_ENDPOINT_URL", "localhost:9000", "http://HOST[:PORT]/… or https://"),
    ("BITSO_PARTITIONS_START", "2020-13-01", "set it like 2020-01-01"),
    ("BITSO_TICKER_PARTITIONS_START", "soon", "set it like 2024-07-16T22:20"),
    ("BITSO_TICKER_PARTITIONS_START", "2024-07-16T22:25", "10-minute boundary"),
    ("BITSO_TICKER_RETENTION_DAYS", "0", "whole number of days from 1 to 3650"),
    ("BITSO_TICKER_RETENTION_DAYS", "30d", "whole number of days from 1 to 3650"),
    ("BITSO_TICKER_RETENTION_DAYS", "3651", "whole number of days from 1 to 3650"),
    ("BITSO_TICKER_WINDOWS_SCHEDULE", "on", "give stopped or running"),
    ("BITSO_LOGIN_EVENTS", ", ,", "comma-separated event names such as login"),
    ("BITSO_STATE_DIR", "/dev/null/state", "/dev/null is a file, not a folder: give a local"),
    ("BITSO_STATE_DIR", "s3://bucket/state", "give a local folder"),
]
SECRET_VALUES = [
    ("BITSO_ALERT_WEBHOOK_URL", "ftp://hooks.example/services/T0/B0/SECRET", "https://HOST"),
    ("BITSO_ALERT_WEBHOOK_URL", "hooks.example/services/T0/B0/SECRET", "https://HOST"),
    ("BITSO_WAREHOUSE_URL", "mysql://owner:SECRET@db/warehouse", "postgresql://USER@HOST"),
    ("BITSO_WAREHOUSE_URL", "host=db password=SECRET nonsense", "postgresql://USER@HOST"),
]


def test_without_configuration_every_setting_is_its_documented_default() -> None:
    settings = load_settings({})

    assert settings == Settings(state_dir=Path(".bitso").resolve())
    assert (settings.api_url, settings.ws_url) == ("https://api.bitso.com", "wss://ws.bitso.com")
    assert settings.books == ("btc_mxn", "usd_mxn")
    assert Thresholds.parse(settings.spread_thresholds).default == (0.1, 0.5, 1.0)
    assert settings.alert_quiet_seconds == 60
    assert settings.partitions_start == date(2020, 1, 1)
    assert settings.ticker_partitions_start == datetime(2024, 7, 16, 22, 20, tzinfo=UTC)
    assert settings.ticker_retention_days == 30
    assert settings.ticker_windows_schedule == "stopped"
    assert settings.login_events == ("login",)
    assert settings.warehouse_url == settings.lake_url == settings.alert_webhook_url == ""
    assert settings.set_variables == frozenset()


def test_set_variables_are_parsed_into_typed_settings_and_blank_ones_keep_the_default(
    tmp_path: Path,
) -> None:
    settings = load_settings(
        {
            "BITSO_STATE_DIR": str(tmp_path / "state"),
            "BITSO_LAKE_URL": "s3://bucket/lake",
            "BITSO_BOOKS": " BTC_MXN , eth_mxn,btc_mxn",
            "BITSO_ALERT_QUIET_SECONDS": " 90 ",
            "BITSO_PARTITIONS_START": "2021-06-01",
            "BITSO_TICKER_PARTITIONS_START": "2025-01-01T00:10+00:00",
            "BITSO_LOGIN_EVENTS": "login, sso_login",
            "BITSO_TICKER_RETENTION_DAYS": "7",
            "BITSO_TICKER_WINDOWS_SCHEDULE": "Running",
            "BITSO_API_URL": "  ",
        }
    )

    assert settings.state_dir == tmp_path / "state"
    assert settings.lake_url == "s3://bucket/lake"
    assert settings.books == ("btc_mxn", "eth_mxn")
    assert settings.alert_quiet_seconds == 90
    assert settings.partitions_start == date(2021, 6, 1)
    assert settings.ticker_partitions_start == datetime(2025, 1, 1, 0, 10, tzinfo=UTC)
    assert settings.login_events == ("login", "sso_login")
    assert settings.ticker_retention_days == 7
    assert settings.ticker_windows_schedule == "running"
    assert settings.api_url == "https://api.bitso.com"
    assert "BITSO_API_URL" not in settings.set_variables
    assert "BITSO_BOOKS" in settings.set_variables


@pytest.mark.parametrize(("name", "value", "allowed"), BAD_VALUES)
def test_a_bad_value_is_refused_naming_the_variable_the_value_and_what_is_allowed(
    name: str, value: str, allowed: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({name: value})

    message = str(refused.value)
    assert message.startswith(f"{name}={value!r} is refused: ")
    assert allowed in message


@pytest.mark.parametrize(("name", "value", "allowed"), SECRET_VALUES)
def test_a_refused_url_that_may_hold_a_secret_is_named_without_the_secret(
    name: str, value: str, allowed: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({name: value})

    message = str(refused.value)
    assert message.startswith(f"{name}=") and allowed in message
    assert "SECRET" not in message


def test_every_refused_variable_is_reported_at_once() -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"BITSO_BOOKS": "x", "BITSO_ALERT_QUIET_SECONDS": "soon"})

    assert "BITSO_BOOKS='x'" in str(refused.value)
    assert "BITSO_ALERT_QUIET_SECONDS='soon'" in str(refused.value)


@pytest.mark.parametrize(
    "command", [["quality"], ["load"], ["build"], ["ticker", "run"], ["ask", "active-users"]]
)
def test_the_cli_prints_a_refused_setting_as_one_line_and_exits_2_before_doing_work(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    env = {"BITSO_STATE_DIR": str(state), "BITSO_LAKE_URL": "ftp://evil/x"}
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(main, command, env=env)

    assert result.exit_code == 2
    assert result.output == (
        "Error: BITSO_LAKE_URL='ftp://evil/x' is refused: only s3:// URLs are supported: "
        "give s3://bucket[/prefix] or a local folder\n"
    )
    assert list(tmp_path.iterdir()) == []  # no state folder, no ./ftp:/evil/x


def test_load_refuses_a_snapshots_argument_that_is_not_a_folder_or_s3_url(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["load", "--snapshots", "ftp://evil/x"], env={"BITSO_STATE_DIR": str(tmp_path)}
    )

    assert result.exit_code == 2
    assert "'ftp://evil/x' is refused" in result.output and "s3://bucket[/prefix]" in result.output
    assert list(tmp_path.iterdir()) == []


def test_the_code_location_fails_to_load_with_the_same_message() -> None:
    # A new process, as a code server loads the location (this one may have built it already).
    loaded = subprocess.run(
        [sys.executable, "-c", "from bitso_platform.definitions import defs; defs()"],
        env={**os.environ, "BITSO_SPREAD_THRESHOLDS": ";;"},
        capture_output=True,
        text=True,
        check=False,
    )

    assert loaded.returncode != 0
    assert "SettingsError: BITSO_SPREAD_THRESHOLDS=';;' is refused: " in loaded.stderr


def test_a_lake_resource_refuses_a_url_that_is_not_s3_or_a_folder(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="BITSO_LAKE_URL='ftp://evil/x' is refused"):
        Lake(url="ftp://evil/x").files()


def test_resources_bind_set_variables_through_env_vars_and_unset_ones_as_their_defaults() -> None:
    settings = load_settings(
        {"BITSO_WAREHOUSE_URL": "postgresql://db/w", "BITSO_ALERT_QUIET_SECONDS": "5"}
    )

    bound = build_resources(settings)
    plain = build_resources(settings, env_vars=False)

    assert bound["warehouse"].url == dg.EnvVar("BITSO_WAREHOUSE_URL")  # type: ignore[attr-defined]
    assert bound["alerts"].quiet_seconds == dg.EnvVar.int("BITSO_ALERT_QUIET_SECONDS")  # type: ignore[attr-defined]
    assert bound["exchange"].books == "btc_mxn,usd_mxn"  # type: ignore[attr-defined]
    assert plain["warehouse"].url == "postgresql://db/w"  # type: ignore[attr-defined]
    assert plain["alerts"].quiet_seconds == 5  # type: ignore[attr-defined]


def test_the_sampler_receives_the_exchange_part_of_the_settings() -> None:
    settings = load_settings(
        {"BITSO_API_URL": "http://127.0.0.1:8765/", "BITSO_WS_URL": "ws://127.0.0.1:8765/"}
    )

    exchange = ExchangeSettings.of(settings, rest_budget_per_minute=12)

    assert exchange == ExchangeSettings(
        api_url="http://127.0.0.1:8765",
        ws_url="ws://127.0.0.1:8765/",
        books=("btc_mxn", "usd_mxn"),
        rest_budget_per_minute=12,
    )


def _environment_accesses(path: Path) -> list[str]:
    """`os.environ[KEY]`, `os.environ.get(KEY)`, `os.getenv(KEY)`, ... whose KEY is a BITSO_*
    name or not a literal at all (a helper that reads any variable it is given)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Subscript):
            target, key = node.value, node.slice
        elif isinstance(node, ast.Call) and node.args:
            target, key = node.func, node.args[0]
            if isinstance(target, ast.Attribute) and target.attr in ("get", "setdefault", "pop"):
                target = target.value
        else:
            continue
        if not any(word in ast.unparse(target) for word in ("environ", "getenv")):
            continue
        literal = isinstance(key, ast.Constant) and isinstance(key.value, str)
        if not literal or str(key.value).startswith("BITSO_"):  # type: ignore[attr-defined]
            found.append(f"{path.relative_to(REPOSITORY)}:{node.lineno} {ast.unparse(node)}")
    return found


def test_no_module_but_settings_reads_or_sets_a_bitso_variable_in_the_environment() -> None:
    settings = REPOSITORY / "bitso_platform" / "settings.py"
    package = [p for p in (REPOSITORY / "bitso_platform").rglob("*.py") if p != settings]
    modules = [*package, *(REPOSITORY / "bench").glob("*.py")]

    accesses = [access for path in modules for access in _environment_accesses(path)]

    assert accesses == []
    assert _environment_accesses(settings)  # the scan recognises the one module that reads
