"""The ticker registry: exactly these assets, checks, jobs, schedules and sensor."""

import dagster as dg

from bitso_platform.definitions import defs


def test_the_ticker_group_declares_exactly_its_assets_checks_jobs_schedules_and_sensor() -> None:
    definitions = defs()
    graph = definitions.resolve_asset_graph()
    ticker_assets = {
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).group_name == "ticker"
    }
    ticker_checks = {
        (check.asset_key.to_user_string(), check.name)
        for check in graph.asset_check_keys
        if check.asset_key.to_user_string() in ticker_assets
    }

    assert ticker_assets == {
        "lake/ticker_spread",
        "lake/ticker_spread_chart",
        "ticker/spread_window_stats",
    }
    assert ticker_checks == {
        ("lake/ticker_spread", "six_hundred_records_per_book"),
        ("lake/ticker_spread", "seconds_unique_and_increasing"),
        ("lake/ticker_spread", "spread_formula_exact"),
        ("lake/ticker_spread", "ask_not_below_bid"),
    }
    assert definitions.resolve_job_def("ticker_windows") is not None
    assert definitions.resolve_schedule_def("ticker_windows_schedule").cron_schedule == (
        "2-59/10 * * * *"
    )
    assert definitions.resolve_job_def("ticker_retention") is not None
    retention = definitions.resolve_schedule_def("ticker_retention_schedule")
    assert (retention.cron_schedule, retention.job_name) == ("30 0 * * *", "ticker_retention")
    sensor = definitions.resolve_sensor_def("spread_alerts")
    assert sensor.minimum_interval_seconds == 2
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_every_ticker_asset_backfills_a_range_in_a_single_run() -> None:
    graph = defs().resolve_asset_graph()
    for key in ("lake/ticker_spread", "lake/ticker_spread_chart", "ticker/spread_window_stats"):
        node = graph.get(dg.AssetKey.from_user_string(key))
        assert node.backfill_policy == dg.BackfillPolicy.single_run(), key
        assert node.partitions_def is not None
