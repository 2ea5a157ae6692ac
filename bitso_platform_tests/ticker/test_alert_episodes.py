"""Alert episodes on the real fixture equal what an independent computation predicts."""

from datetime import UTC, datetime

import pytest

from bitso_platform.devtools.replay import Observation
from bitso_platform.resources.alerts import SpreadAlerts
from bitso_platform.ticker.alerts import (
    AlertRules,
    EpisodeTracker,
    SpreadObservation,
    Thresholds,
)
from bitso_platform.ticker.records import Quote, SpreadRecord
from bitso_platform.ticker.store import ObservationStore
from bitso_platform_tests.ticker.alert_reference import (
    expected_episodes,
    expected_keys,
    notification_keys,
    series_of,
    store_observations,
    stored_episodes,
)


def test_every_threshold_gets_exactly_the_episodes_the_reference_predicts_on_the_fixture(
    warehouse_url: str, recorded: list[Observation]
) -> None:
    store_observations(warehouse_url, recorded)
    expected = expected_episodes(series_of(recorded))

    report = SpreadAlerts().evaluator(warehouse_url).run_pass()

    assert stored_episodes(warehouse_url) == expected
    assert report.observations == len(recorded)
    assert report.opened == len(expected)
    assert {e.threshold for e in expected} == {0.1, 0.5, 1.0}  # the fixture reaches all three
    assert notification_keys(warehouse_url) == expected_keys(expected)


@pytest.mark.parametrize("passes", [2, 7])
def test_evaluating_in_several_passes_gives_the_same_episodes_as_one_pass(
    warehouse_url: str, recorded: list[Observation], passes: int
) -> None:
    evaluator = SpreadAlerts().evaluator(warehouse_url)
    ordered = sorted(recorded, key=lambda o: (o.second, o.book))
    size = len(ordered) // passes + 1

    for start in range(0, len(ordered), size):
        store_observations(warehouse_url, ordered[start : start + size])
        evaluator.run_pass()

    expected = expected_episodes(series_of(recorded))
    assert stored_episodes(warehouse_url) == expected
    assert notification_keys(warehouse_url) == expected_keys(expected)


@pytest.mark.parametrize("quiet", [0, 5, 300])
def test_the_quiet_period_decides_when_episodes_resolve(
    warehouse_url: str, recorded: list[Observation], quiet: int
) -> None:
    store_observations(warehouse_url, recorded)

    SpreadAlerts(quiet_seconds=quiet).evaluator(warehouse_url).run_pass()

    assert stored_episodes(warehouse_url) == expected_episodes(series_of(recorded), quiet=quiet)


def test_per_book_thresholds_replace_the_default_list_for_that_book_only(
    warehouse_url: str, recorded: list[Observation]
) -> None:
    store_observations(warehouse_url, recorded)

    SpreadAlerts(thresholds="0.2;btc_mxn=0.3,5").evaluator(warehouse_url).run_pass()

    expected = expected_episodes(series_of(recorded), (0.2,), per_book={"btc_mxn": (0.3, 5.0)})
    assert stored_episodes(warehouse_url) == expected
    assert {(e.book, e.threshold) for e in expected} >= {("btc_mxn", 0.3), ("btc_mxn", 5.0)}


def _obs(second: int, spread: float) -> SpreadObservation:
    return SpreadObservation(second, "btc_mxn", datetime.fromtimestamp(second, UTC), spread)


def test_an_observation_above_the_threshold_restarts_the_quiet_period() -> None:
    tracker = EpisodeTracker("btc_mxn", 0.5)
    events = [
        tracker.observe(_obs(second, spread), 60)
        for second, spread in [(0, 0.9), (10, 0.1), (65, 0.7), (70, 0.1), (129, 0.1), (130, 0.2)]
    ]

    assert [(e.kind if e else None) for e in events] == [
        "opened",
        None,
        None,  # above: keeps the episode open (quiet run from 10 s interrupted)
        None,
        None,  # 59 s after the run began at 70 s
        "resolved",  # 60 s after
    ]
    assert events[-1] and events[-1].episode.peak_spread == 0.9


def test_a_spread_equal_to_the_threshold_does_not_open_an_episode() -> None:
    tracker = EpisodeTracker("btc_mxn", 0.5)

    assert tracker.observe(_obs(0, 0.5), 60) is None
    assert tracker.observe(_obs(1, 0.5000001), 60) is not None


def test_missing_seconds_neither_close_nor_interrupt_a_quiet_run() -> None:
    tracker = EpisodeTracker("btc_mxn", 0.5)
    tracker.observe(_obs(0, 0.9), 60)
    tracker.observe(_obs(1, 0.1), 60)

    event = tracker.observe(_obs(1000, 0.2), 60)  # 999 s without observations in between

    assert event is not None and event.kind == "resolved"
    assert event.episode.resolved_at == datetime.fromtimestamp(1000, UTC)


@pytest.mark.parametrize(
    ("text", "default", "btc"),
    [
        ("0.1,0.5,1.0", (0.1, 0.5, 1.0), (0.1, 0.5, 1.0)),
        ("0.1,0.5,1.0;btc_mxn=0.2,2", (0.1, 0.5, 1.0), (0.2, 2.0)),
        ("btc_mxn=2", (0.1, 0.5, 1.0), (2.0,)),
        (" 1 , 0.5 ; BTC_MXN = 3 ", (0.5, 1.0), (3.0,)),
    ],
)
def test_threshold_settings_parse_a_default_list_and_per_book_lists(
    text: str, default: tuple[float, ...], btc: tuple[float, ...]
) -> None:
    thresholds = Thresholds.parse(text)

    assert thresholds.for_book("usd_mxn") == default
    assert thresholds.for_book("btc_mxn") == btc


@pytest.mark.parametrize("text", ["abc", "0.1;0.2", "-1", "btc_mxn=", "btc=1", "0,1"])
def test_a_bad_threshold_setting_is_refused_with_the_syntax(text: str) -> None:
    with pytest.raises(ValueError, match="BITSO_SPREAD_THRESHOLDS"):
        AlertRules(Thresholds.parse(text))


def test_held_seconds_are_observations_that_resolve_an_episode(warehouse_url: str) -> None:
    spike = Quote("usd_mxn", 17.0, 17.5, 1000.1, 1000.2, "ws")  # 2.86 %: above every threshold
    calm = Quote("usd_mxn", 17.0, 17.001, 1001.1, 1001.2, "ws")  # then no change for 70 s
    held = [SpreadRecord.covered(second, calm, held=True) for second in range(1002, 1072)]
    ObservationStore(warehouse_url).write(
        [SpreadRecord.covered(1000, spike), SpreadRecord.covered(1001, calm), *held]
    )

    report = SpreadAlerts(quiet_seconds=60).evaluator(warehouse_url).run_pass()

    assert report.observations == 72
    episodes = stored_episodes(warehouse_url)
    assert {(e.threshold, e.resolved_at) for e in episodes} == {
        (threshold, 1061) for threshold in (0.1, 0.5, 1.0)
    }
