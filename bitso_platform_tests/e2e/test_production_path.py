"""What users do in the Dagster UI, done through the webserver's GraphQL API while the
daemon runs the queue: load the snapshots, then run every asset check."""

import pytest

from bitso_platform_tests.e2e.graphql import Dagster


@pytest.fixture(scope="module")
def loaded(services: Dagster) -> Dagster:
    run_id = services.launch_run(job="load_snapshots")
    assert services.wait_for_run(run_id) == "SUCCESS", f"see {services.logs}"  # type: ignore[attr-defined]
    return services


def test_the_snapshot_load_runs_through_the_daemon_and_its_checks_pass(loaded: Dagster) -> None:
    checks = loaded.asset_checks()
    snapshot_checks = [c for c in checks if c[0][0] in ("raw", "core")]
    assert len(snapshot_checks) == 9
    run_id = loaded.launch_run(assets=[], checks=snapshot_checks)
    assert loaded.wait_for_run(run_id) == "SUCCESS"
    results = loaded.check_results(run_id)
    assert len(results) == len(snapshot_checks)
    assert all(passed for _, _, passed in results), results
