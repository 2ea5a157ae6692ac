"""The marts' registry: assets, partitions, checks, job and schedule, exactly."""

from datetime import UTC, date, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph

from bitso_platform.definitions import defs
from bitso_platform.defs.marts.assets import FRESHNESS

MARTS = {
    "daily_movements",
    "daily_balances",
    "daily_currency_totals",
    "daily_logins",
    "daily_user_status",
    "deposit_ordinals",
    "daily_kpis",
    "daily_user_features",
    "user_features_as_of",
    "user_segments",
    "monthly_currency_stats",
}
CHECKS = {
    "daily_movements": {"keys_unique", "counts_not_negative", "reconciles_with_core"},
    "daily_balances": {"keys_unique", "equal_sum_of_movements"},
    "daily_currency_totals": {"keys_unique", "counts_not_negative", "reconciles_with_core"},
    "daily_logins": {"keys_unique", "counts_not_negative", "reconciles_with_core"},
    "daily_user_status": {"keys_unique", "counts_not_negative", "reconciles_with_core"},
    "deposit_ordinals": {"keys_unique", "reconciles_with_core"},
    "daily_kpis": {"keys_unique", "counts_not_negative", "reconciles_with_core", "cover_fact_days"},
    "daily_user_features": {
        "keys_unique",
        "windows_nest",
        "no_future_information",
        "reconciles_with_daily_marts",
    },
    "user_segments": {"reconciles_with_daily_marts"},
    "monthly_currency_stats": {"keys_unique", "counts_not_negative", "reconciles_with_daily_marts"},
}


@pytest.fixture(scope="module")
def graph() -> AssetGraph:
    return defs().resolve_asset_graph()


def mart_keys(graph: AssetGraph) -> set[str]:
    return {key.path[1] for key in graph.get_all_asset_keys() if key.path[0] == "marts"}


def test_the_marts_are_exactly_these_tables_in_group_marts(graph: AssetGraph) -> None:
    assert mart_keys(graph) == MARTS
    for table in MARTS:
        node = graph.get(dg.AssetKey(["marts", table]))
        assert node.group_name == "marts"
        assert node.description


def test_every_mart_is_daily_partitioned_from_2020_through_today_with_single_run_backfills(
    graph: AssetGraph,
) -> None:
    for table in MARTS:
        node = graph.get(dg.AssetKey(["marts", table]))
        partitions = node.partitions_def
        assert isinstance(partitions, dg.DailyPartitionsDefinition)
        assert partitions.start.date() == date(2020, 1, 1)
        assert partitions.timezone == "UTC"
        today = datetime.now(UTC).date()
        assert partitions.get_last_partition_key() == today.isoformat()
        assert node.backfill_policy == dg.BackfillPolicy.single_run()
        assert node.freshness_policy == FRESHNESS
        assert node.metadata["dagster/column_schema"].columns


def test_the_first_partition_follows_bitso_partitions_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BITSO_PARTITIONS_START", "2021-06-01")
    node = defs().resolve_asset_graph().get(dg.AssetKey(["marts", "daily_kpis"]))
    assert node.partitions_def.get_first_partition_key() == "2021-06-01"


def test_every_mart_has_exactly_its_checks_partitioned_like_it(graph: AssetGraph) -> None:
    found: dict[str, set[str]] = {}
    for check_key in graph.asset_check_keys:
        if check_key.asset_key.path[0] == "marts":
            found.setdefault(check_key.asset_key.path[1], set()).add(check_key.name)
    assert found == CHECKS
    specs = {
        spec.key: spec
        for checks in defs().asset_checks or []
        for spec in checks.check_specs
        if spec.asset_key.path[0] == "marts"
    }
    for key, spec in specs.items():
        assert isinstance(spec.partitions_def, dg.DailyPartitionsDefinition), key
        assert spec.blocking == (key.name != "cover_fact_days"), key


def test_the_daily_marts_job_selects_the_marts_and_the_schedule_builds_yesterday_at_one() -> None:
    definitions = defs()
    job = definitions.resolve_job_def("daily_marts")
    assert {key.path[1] for key in job.asset_layer.executable_asset_keys} == MARTS
    schedule = definitions.resolve_schedule_def("daily_marts_schedule")
    assert schedule.cron_schedule == "0 1 * * *"
    assert schedule.execution_timezone == "UTC"
    tick = datetime(2024, 3, 1, 1, 0, tzinfo=UTC)
    requests = schedule.evaluate_tick(
        dg.build_schedule_context(
            scheduled_execution_time=tick, repository_def=definitions.get_repository_def()
        )
    ).run_requests
    assert [r.partition_key for r in requests or []] == [
        (tick - timedelta(days=1)).date().isoformat()
    ]


def test_the_segments_check_runs_in_its_own_audit_job_after_the_daily_build() -> None:
    definitions = defs()
    daily = definitions.resolve_job_def("daily_marts").asset_layer.asset_graph
    audit_job = definitions.resolve_job_def("segments_audit")
    segments = dg.AssetCheckKey(
        dg.AssetKey(["marts", "user_segments"]), "reconciles_with_daily_marts"
    )
    daily_checks = set(daily.asset_check_keys)
    assert segments not in daily_checks
    assert dg.AssetCheckKey(dg.AssetKey(["marts", "daily_balances"]), "keys_unique") in daily_checks
    assert set(audit_job.asset_layer.asset_graph.asset_check_keys) == {segments}
    assert audit_job.asset_layer.executable_asset_keys == {segments.asset_key}
    schedule = definitions.resolve_schedule_def("segments_audit_schedule")
    assert (schedule.cron_schedule, schedule.job_name) == ("0 2 * * *", "segments_audit")
    tick = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)
    context = dg.build_schedule_context(
        scheduled_execution_time=tick, repository_def=definitions.get_repository_def()
    )
    requests = schedule.evaluate_tick(context).run_requests or []
    assert [r.partition_key for r in requests] == ["2024-02-29"]
