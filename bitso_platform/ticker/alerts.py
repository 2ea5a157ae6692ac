"""Spread alert rules and the episode state machine (SPEC 6), free of any storage.

Episodes are kept per (book, threshold), on the observations' own timestamps:

- an episode **opens** at an observation whose spread is strictly greater than the threshold
  while none is open;
- it **resolves** at the first observation at or below the threshold that comes at least
  `quiet_seconds` after the first observation of an uninterrupted run of observations at or
  below it; an observation above the threshold before then keeps it open (and restarts the
  run);
- gaps and missing seconds are not observations: they neither open, extend nor close
  anything, and they do not interrupt a run.

`EpisodeTracker.observe` applies one observation to one (book, threshold) and reports the
events it caused; `alert_evaluator` persists trackers, episodes and notifications.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from bitso_platform.settings import DEFAULT_QUIET_SECONDS, DEFAULT_THRESHOLDS, parse_thresholds

EventKind = Literal["opened", "resolved"]


@dataclass(frozen=True)
class Thresholds:
    """Percent thresholds: a default list and per-book replacements of it."""

    default: tuple[float, ...] = DEFAULT_THRESHOLDS
    per_book: Mapping[str, tuple[float, ...]] = field(default_factory=dict)

    def for_book(self, book: str) -> tuple[float, ...]:
        return self.per_book.get(book, self.default)

    @classmethod
    def parse(cls, text: str) -> "Thresholds":
        """Parse `DEFAULTS[;BOOK=LIST]...`, e.g. `0.1,0.5,1.0;btc_mxn=0.2,2`.

        The segment without `=` replaces the default list (0.1,0.5,1.0 when absent); a
        `book=list` segment replaces the list for that book only.
        """
        default, per_book = parse_thresholds(text)
        return cls(default if default is not None else DEFAULT_THRESHOLDS, per_book)

    def describe(self) -> str:
        parts = [",".join(f"{t:g}" for t in self.default)]
        parts += [
            f"{b}={','.join(f'{t:g}' for t in ts)}" for b, ts in sorted(self.per_book.items())
        ]
        return ";".join(parts)


@dataclass(frozen=True)
class AlertRules:
    """What raises and resolves alerts."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    quiet_seconds: float = DEFAULT_QUIET_SECONDS

    def __post_init__(self) -> None:
        if self.quiet_seconds < 0:
            raise ValueError(
                f"BITSO_ALERT_QUIET_SECONDS must be zero or more, got {self.quiet_seconds}"
            )


@dataclass(frozen=True)
class SpreadObservation:
    """A covered (non-gap) observation as the evaluator reads it."""

    observation_id: int
    book: str
    at: datetime
    spread: float


@dataclass
class Episode:
    """One alert episode of a (book, threshold); `alert_id` is None until it is stored."""

    book: str
    threshold: float
    opened_at: datetime
    opening_spread: float
    opened_observation_id: int
    peak_spread: float
    peak_at: datetime
    alert_id: int | None = None
    resolved_at: datetime | None = None
    resolving_spread: float | None = None
    resolved_observation_id: int | None = None

    @classmethod
    def open(cls, threshold: float, observation: SpreadObservation) -> "Episode":
        return cls(
            book=observation.book,
            threshold=threshold,
            opened_at=observation.at,
            opening_spread=observation.spread,
            opened_observation_id=observation.observation_id,
            peak_spread=observation.spread,
            peak_at=observation.at,
        )

    def idempotency_key(self, event: EventKind) -> str:
        """Stable across retries, restarts and re-evaluations: derived from the data only."""
        return f"spread-alert:{self.book}:{self.threshold:g}:{iso(self.opened_at)}:{event}"

    def message(self, event: EventKind, *, slack: bool = False) -> str:
        """The human notification: plain text, or with Slack's markup (an emoji, the book
        in bold) for a sink that renders it."""
        book = f"*{self.book}*" if slack else self.book
        if event == "opened":
            emoji = ":rotating_light: " if slack else ""
            return (
                f"{emoji}{book} spread {self.opening_spread:.4f}% is above "
                f"{self.threshold:g}% at {iso(self.opened_at)} (alert opened)"
            )
        emoji = ":white_check_mark: " if slack else ""
        return (
            f"{emoji}{book} spread back at or below {self.threshold:g}% "
            f"at {iso(self.resolved_at)} (alert of {iso(self.opened_at)} resolved; "
            f"peak {self.peak_spread:.4f}% at {iso(self.peak_at)})"
        )


@dataclass(frozen=True)
class Event:
    kind: EventKind
    episode: Episode


@dataclass
class EpisodeTracker:
    """State of one (book, threshold) between observations."""

    book: str
    threshold: float
    evaluated_through: datetime | None = None  # the last observation applied
    episode: Episode | None = None  # the open episode
    calm_since: datetime | None = None  # start of the run at or below, while open
    touched: bool = False  # changed since it was loaded

    def observe(self, observation: SpreadObservation, quiet_seconds: float) -> Event | None:
        """Apply the next observation; the event it caused, if any.

        Observations must come in timestamp order; an earlier or equal one is ignored
        (the caller counts it as late) because notified history cannot be rewritten.
        """
        if self.evaluated_through is not None and observation.at <= self.evaluated_through:
            raise LateObservation(observation)
        self.evaluated_through = observation.at
        self.touched = True
        above = observation.spread > self.threshold
        if self.episode is None:
            if not above:
                return None
            self.episode, self.calm_since = Episode.open(self.threshold, observation), None
            return Event("opened", self.episode)
        return self._while_open(observation, above, quiet_seconds)

    def _while_open(
        self, observation: SpreadObservation, above: bool, quiet_seconds: float
    ) -> Event | None:
        episode = self.episode
        assert episode is not None
        if above:
            self.calm_since = None  # the run at or below is interrupted
            if observation.spread > episode.peak_spread:
                episode.peak_spread, episode.peak_at = observation.spread, observation.at
            return None
        if self.calm_since is None:
            self.calm_since = observation.at
        if (observation.at - self.calm_since).total_seconds() < quiet_seconds:
            return None
        episode.resolved_at = observation.at
        episode.resolving_spread = observation.spread
        episode.resolved_observation_id = observation.observation_id
        self.episode, self.calm_since = None, None
        return Event("resolved", episode)


class LateObservation(Exception):
    """An observation at or before the last one already evaluated for its book."""

    def __init__(self, observation: SpreadObservation):
        super().__init__(
            f"{observation.book} observation {observation.observation_id} at "
            f"{iso(observation.at)} is not after the last evaluated one"
        )
        self.observation = observation


def iso(moment: datetime | None) -> str:
    """SPEC 6 timestamp text: `2022-04-30T04:10:26+00:00` (fractions only when present)."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat()
