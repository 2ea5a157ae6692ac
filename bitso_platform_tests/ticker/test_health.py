"""`bitso ticker health`: healthy only while every book receives priced observations."""

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bitso_platform.cli import main
from bitso_platform.resources.warehouse import Warehouse
from bitso_platform.ticker.store import create_table
from bitso_platform_tests.ticker.test_cli import Replay, Slice, at


@pytest.fixture
def env(warehouse_url: str) -> dict[str, str]:
    return {"BITSO_WAREHOUSE_URL": warehouse_url, "BITSO_BOOKS": "btc_mxn,usd_mxn"}


def record(
    warehouse: Warehouse,
    book: str,
    written: timedelta,
    *,
    gap: bool = False,
    held_since: timedelta | None = None,
) -> None:
    """A row of `book` written `written` ago: observed, a gap, or held (its snapshot
    received `held_since` ago)."""
    now = datetime.now(UTC)
    recorded_at = now - written
    received_at = now - (held_since or written)
    priced = (1.0, 1.1, 9.0909, "ws", received_at, received_at)
    with warehouse.connection() as conn:
        create_table(conn)
        conn.execute(
            "insert into ticker.spread_observations (orderbook_timestamp, book, bid, ask,"
            " spread, source, exchange_at, received_at, is_gap, is_held, recorded_at)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                recorded_at.replace(microsecond=0),
                book,
                *((None,) * 6 if gap else priced),
                gap,
                held_since is not None,
                recorded_at,
            ],
        )


def health(env: dict[str, str], *options: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["ticker", "health", *options], env=env)
    return result.exit_code, result.output


def test_the_sampler_is_healthy_right_after_recording_a_replayed_slice(
    warehouse_url: str, env: dict[str, str], replay: Replay, fixture_slice: Slice
) -> None:
    exchange = replay(fixture_slice(at("22:26:00"), 5), speed=20)
    sampler_env = {**env, "BITSO_API_URL": exchange.api_url, "BITSO_WS_URL": exchange.ws_url}
    sampled = CliRunner().invoke(
        main, ["ticker", "run", "--speed", "20", "--for", "5"], env=sampler_env
    )
    assert sampled.exit_code == 0, sampled.output

    code, output = health(env)

    assert code == 0, output
    assert "healthy" in output and "btc_mxn" in output and "usd_mxn" in output


def test_before_the_sampler_ever_ran_every_book_is_reported_missing(
    warehouse: Warehouse, env: dict[str, str]
) -> None:
    code, output = health(env)

    assert code == 1
    assert "btc_mxn: no observation recorded yet" in output
    assert "usd_mxn: no observation recorded yet" in output
    assert "bitso ticker run" in output


def test_a_book_whose_last_observation_is_older_than_max_age_is_stale(
    warehouse: Warehouse, env: dict[str, str]
) -> None:
    record(warehouse, "btc_mxn", timedelta(seconds=5))
    record(warehouse, "usd_mxn", timedelta(seconds=300))

    code, output = health(env, "--max-age", "60")

    assert code == 1
    assert "usd_mxn: last observation" in output and "written 300 s ago" in output
    assert "btc_mxn" not in output.split("stale")[1]
    assert health(env, "--max-age", "600")[0] == 0


def test_gap_rows_alone_do_not_count_as_a_live_feed(
    warehouse: Warehouse, env: dict[str, str]
) -> None:
    record(warehouse, "btc_mxn", timedelta(seconds=5))
    record(warehouse, "usd_mxn", timedelta(seconds=120))
    record(warehouse, "usd_mxn", timedelta(seconds=1), gap=True)

    code, output = health(env)

    assert code == 1
    assert "usd_mxn: last observation" in output


def test_held_rows_written_recently_keep_a_quiet_book_healthy(
    warehouse: Warehouse, env: dict[str, str]
) -> None:
    record(warehouse, "btc_mxn", timedelta(seconds=5))
    record(warehouse, "usd_mxn", timedelta(seconds=2), held_since=timedelta(minutes=30))

    code, output = health(env)

    assert code == 0, output
    assert "usd_mxn: last observation" in output and "written 2 s ago" in output


def test_an_unreachable_warehouse_is_unhealthy_with_what_to_check() -> None:
    code, output = health({"BITSO_WAREHOUSE_URL": "postgresql://postgres@127.0.0.1:1/x"})

    assert code == 1
    assert "BITSO_WAREHOUSE_URL" in output
