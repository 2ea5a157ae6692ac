"""Benchmark of spread alerts: latency from an observation stored to its alert persisted.

The production shape, on loopback: a replay exchange (`bitso ticker replay`) plays a slice
of the real fixture at --speed times real time; the sampler (`bitso ticker run --speed`)
writes observations into a throwaway Postgres database; `dagster-daemon run` (temporary
DAGSTER_HOME) ticks the `spread_alerts` sensor every few seconds, as deployed. All three are
processes of their own. This process only watches: every 50 ms it notes the highest
observation_id visible and the alert rows visible, so both ends of each latency are seen
by the same clock as they commit.

    latency (stored -> persisted) = when the alert's row (or its resolution) became visible
                                  - when the observation that caused it became visible
    latency (received -> persisted) = the same end, minus the sampler's arrival time of the
                                      quote (adds the sampler's settle and flush delay);
                                      for a held second, of the row's write (no quote came)

It also checks the outcome: the episodes must equal an independent computation over the
stored observations (bitso_platform_tests/ticker/alert_reference.py).

Run: .venv/bin/python bench/alerts.py [--from 2024-07-17T02:30:00+00:00] [--minutes 60]
     [--speed 10]   (about minutes * 6 / speed wall minutes, plus ~30 s of start-up)
"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the independent reference lives with the tests

from bitso_platform_tests.ticker.alert_reference import (  # noqa: E402
    expected_episodes,
    stored_episodes,
    stored_series,
)

FIXTURE = ROOT / "fixtures/real/ticker/spread_observations_2024-07-16_17.csv"
BIN = Path(sys.executable).parent
POLL_SECONDS = 0.05


@dataclass
class Watch:
    """What the poller saw, in monotonic seconds."""

    max_ids: list[tuple[float, int]] = field(default_factory=list)  # (seen at, max id)
    opened: dict[int, float] = field(default_factory=dict)  # alert_id -> first seen
    resolved: dict[int, float] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)

    def stored_at(self, observation_id: int) -> float:
        """When `observation_id` first became visible."""
        return next(t for t, top in self.max_ids if top >= observation_id)


def poll(url: str, watch: Watch) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        while not watch.stop.is_set():
            now = time.monotonic()
            top = conn.execute(
                "select coalesce(max(observation_id), 0) from ticker.spread_observations"
            ).fetchone()[0]  # type: ignore[index]
            if not watch.max_ids or top > watch.max_ids[-1][1]:
                watch.max_ids.append((now, top))
            if conn.execute("select to_regclass('ticker.spread_alerts')").fetchone() != (None,):
                for alert_id, resolved in conn.execute(
                    "select alert_id, resolved_at is not null from ticker.spread_alerts"
                ):
                    watch.opened.setdefault(alert_id, now)
                    if resolved:
                        watch.resolved.setdefault(alert_id, now)
            time.sleep(POLL_SECONDS)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def database(server: str) -> Iterator[str]:
    name = f"bitso_bench_alerts_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield psycopg.conninfo.make_conninfo(server, dbname=name)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))


@contextmanager
def process(arguments: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A child process, logging to `log`, ended by PID (SIGTERM, then SIGKILL) on exit."""
    with log.open("wb") as output:
        child = subprocess.Popen(
            arguments, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
        )
        try:
            yield child
        finally:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def sensor_ticked(url: str) -> bool:
    with psycopg.connect(url) as conn:
        if conn.execute("select to_regclass('ticker.spread_alert_cursor')").fetchone() == (None,):
            return False
        return conn.execute("select count(*) from ticker.spread_alert_cursor").fetchone() != (0,)


def caught_up(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select (select last_observation_id from ticker.spread_alert_cursor)"
            " >= (select coalesce(max(observation_id), 0) from ticker.spread_observations)"
        ).fetchone()
    return bool(row and row[0])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def latencies(url: str, watch: Watch) -> tuple[list[float], list[float], list[float]]:
    """Stored->persisted (opens, resolutions) and received->persisted, in seconds."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select a.alert_id, a.opened_observation_id, a.resolved_observation_id,"
            " extract(epoch from a.opened_recorded_at"
            "  - case when o.is_held then o.recorded_at else o.received_at end),"
            " extract(epoch from a.resolved_recorded_at"
            "  - case when r.is_held then r.recorded_at else r.received_at end)"
            " from ticker.spread_alerts a"
            " join ticker.spread_observations o on o.observation_id = a.opened_observation_id"
            " left join ticker.spread_observations r"
            " on r.observation_id = a.resolved_observation_id"
        ).fetchall()
    opens, resolutions, received = [], [], []
    for alert_id, opened_by, resolved_by, open_from_received, resolve_from_received in rows:
        opens.append(watch.opened[alert_id] - watch.stored_at(opened_by))
        received.append(float(open_from_received))
        if resolved_by is not None:
            resolutions.append(watch.resolved[alert_id] - watch.stored_at(resolved_by))
            received.append(float(resolve_from_received))
    return opens, resolutions, received


def run(args: argparse.Namespace) -> None:
    start = datetime.fromisoformat(args.start)
    end = start + timedelta(minutes=args.minutes)
    seconds = args.minutes * 60
    with database(args.postgres) as url, tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "dagster"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        port = free_port()
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "BITSO_WAREHOUSE_URL": url,
            "BITSO_LAKE_URL": str(Path(tmp) / "lake"),
            "BITSO_API_URL": f"http://127.0.0.1:{port}",
            "BITSO_WS_URL": f"ws://127.0.0.1:{port}/",
            "BITSO_BOOKS": "btc_mxn,usd_mxn",
        }
        logs = Path(tmp)
        daemon_cmd = [str(BIN / "dagster-daemon"), "run", "-m", "bitso_platform.definitions"]
        replay_cmd = [
            str(BIN / "bitso"), "ticker", "replay", str(args.fixture), "--speed", str(args.speed),
            "--port", str(port), "--from", start.isoformat(), "--until", end.isoformat(),
            "--wait-for-client", "--linger", "30",
        ]  # fmt: skip
        sampler_cmd = [
            str(BIN / "bitso"), "ticker", "run", "--speed", str(args.speed), "--for", str(seconds),
        ]  # fmt: skip
        watch = Watch()
        poller = threading.Thread(target=poll, args=(url, watch), daemon=True)
        with (
            process(daemon_cmd, env, logs / "daemon.log"),
            process(replay_cmd, env, logs / "replay.log"),
        ):
            print("waiting for the daemon's first sensor tick ...", file=sys.stderr)
            wait_until(lambda: sensor_ticked(url), 180, "the spread_alerts sensor to tick")
            poller.start()
            began = time.monotonic()
            with process(sampler_cmd, env, logs / "sampler.log") as sampler:
                print(f"sampling {args.minutes} min at {args.speed:g}x ...", file=sys.stderr)
                sampler.wait(timeout=seconds / args.speed * 3 + 120)
            wait_until(lambda: caught_up(url), 60, "the sensor to evaluate every observation")
            time.sleep(1)
            watch.stop.set()
            poller.join()
            wall = time.monotonic() - began
            ticks = (logs / "daemon.log").read_text().count("spread_alerts")
        report(url, watch, args, wall, ticks)


def report(url: str, watch: Watch, args: argparse.Namespace, wall: float, ticks: int) -> None:
    opens, resolutions, received = latencies(url, watch)
    events = opens + resolutions
    expected = expected_episodes(stored_series(url))
    correct = stored_episodes(url) == expected
    with psycopg.connect(url) as conn:
        observations = conn.execute(
            "select count(*) from ticker.spread_observations where not is_gap"
        ).fetchone()[0]  # type: ignore[index]
    print(
        "| slice | speed | observations | episodes | events | stored→persisted p50 | p95 | max "
        "| opens p95 | resolutions p95 | received→persisted p50 | p95 | matches reference |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| {args.start[:16]} +{args.minutes} min | {args.speed:g}x | {observations} "
        f"| {len(opens)} | {len(events)} "
        f"| {statistics.median(events):.2f} s | {percentile(events, 0.95):.2f} s "
        f"| {max(events):.2f} s | {percentile(opens, 0.95):.2f} s "
        f"| {percentile(resolutions, 0.95) if resolutions else 0:.2f} s "
        f"| {statistics.median(received):.2f} s | {percentile(received, 0.95):.2f} s "
        f"| {'yes' if correct else 'NO'} |"
    )
    print(f"wall {wall:.0f} s; daemon log lines naming the sensor: {ticks}", file=sys.stderr)
    if not correct:
        raise SystemExit("the episodes differ from the reference computation")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fixture", type=Path, default=FIXTURE, help="SPEC 6 observation CSV")
    parser.add_argument(
        "--from", dest="start", default="2024-07-17T02:30:00+00:00", help="slice start"
    )
    parser.add_argument("--minutes", type=int, default=60, help="slice length (feed minutes)")
    parser.add_argument("--speed", type=float, default=10.0, help="replay and sampler speed")
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="admin URL of the Postgres server (a throwaway database is created there)",
    )
    run(parser.parse_args())


if __name__ == "__main__":
    main()
