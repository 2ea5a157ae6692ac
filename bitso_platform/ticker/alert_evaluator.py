"""One evaluation pass of the spread alerts over new observations, durable in Postgres.

A pass is what the Dagster sensor runs on every tick and what `bitso ticker evaluate` runs
once; both use the cursor row in `ticker.spread_alert_cursor`, so they share one cursor.

1. **Horizon.** Identity values are handed out when a row is inserted, but become visible
   when its transaction commits, so a reader that follows `observation_id` could pass over an
   id that commits late and never see it. The pass therefore takes a momentary SHARE lock on
   `ticker.spread_observations` (it waits for in-flight inserts to commit and is released at
   once): every id at or below the maximum it then sees is settled, committed or never.
2. **Evaluate.** In one transaction: lock the cursor row (a concurrent pass waits and then
   continues after it), read the covered observations with ids in (cursor, horizon], apply
   them to the episode state machine of every (book, threshold), and write the episodes, the
   state, the notifications (outbox) and the new cursor. A crash or a killed connection
   anywhere before the commit changes nothing; after it, nothing is evaluated twice.
3. **Deliver** the due notifications (`notify.deliver_due`), after the commit.
"""

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import psycopg
import psycopg.rows

from bitso_platform.backoff import ExponentialBackoff
from bitso_platform.redaction import errors_scrubbed
from bitso_platform.sql import load_sql
from bitso_platform.ticker.alerts import (
    AlertRules,
    Episode,
    EpisodeTracker,
    Event,
    LateObservation,
    SpreadObservation,
    iso,
)
from bitso_platform.ticker.notify import (
    DEFAULT_RETRY,
    DeliveryReport,
    LogSink,
    Sink,
    deliver_due,
)

log = logging.getLogger("bitso_platform.alerts")

APPLICATION_NAME = "bitso-ticker-alerts"
EVALUATOR = "spread_alerts"
DDL = (
    ("ticker.spread_observations", "ticker/spread_observations"),
    ("ticker.spread_alerts", "ticker/spread_alerts"),
    ("ticker.spread_alert_state", "ticker/spread_alert_state"),
    ("ticker.spread_alert_cursor", "ticker/spread_alert_cursor"),
    ("ticker.alert_notifications", "ticker/alert_notifications"),
)
DDL_LOCK = 0x7469_636B_6572  # advisory lock key: one process creates the ticker tables at a time
HORIZON_LOCK_TIMEOUT = "2s"
Key = tuple[str, float]


@dataclass(frozen=True)
class PassReport:
    """What one pass did; `cursor` is the authoritative cursor after it."""

    previous_cursor: int
    cursor: int
    observations: int
    late: int
    opened: int
    resolved: int
    open_episodes: int
    delivery: DeliveryReport = field(default_factory=DeliveryReport)
    horizon_waited_out: bool = False  # the SHARE lock timed out: nothing evaluated this pass

    def summary(self) -> str:
        delivery = self.delivery
        ids = (
            f"ids {self.previous_cursor + 1}..{self.cursor}"
            if self.cursor > self.previous_cursor
            else f"nothing new after id {self.cursor}"
        )
        text = (
            f"evaluated {self.observations} observations ({ids}); opened {self.opened}, "
            f"resolved {self.resolved}, open now {self.open_episodes}; notifications "
            f"delivered {delivery.delivered}, failed {delivery.failed}, pending {delivery.pending}"
        )
        if self.late:
            text += f"; {self.late} late observations ignored"
        if self.horizon_waited_out:
            text += "; observations table busy, retrying next pass"
        return text


class AlertEvaluator:
    """Evaluates new observations against the rules and delivers the resulting notifications."""

    def __init__(
        self,
        url: str,
        rules: AlertRules,
        sinks: Sequence[Sink] = (),
        *,
        retry: ExponentialBackoff = DEFAULT_RETRY,
        evaluator: str = EVALUATOR,
        max_batch: int = 500_000,
        delivery_budget_seconds: float = 20.0,
    ):
        self.url = url
        self.rules = rules
        self.sinks = tuple(sinks) or (LogSink(),)
        self.retry = retry
        self.evaluator = evaluator
        self.max_batch = max_batch
        self.delivery_budget_seconds = delivery_budget_seconds

    def run_pass(self) -> PassReport:
        """Evaluate what is new, commit, then deliver what is due."""
        with self.connect() as conn:
            ensure_tables(conn)
            horizon = settled_horizon(conn)
            report = self._evaluate(conn, horizon)
            delivery = deliver_due(
                conn, self.sinks, retry=self.retry, budget_seconds=self.delivery_budget_seconds
            )
        return dataclasses.replace(report, delivery=delivery)

    def connect(self) -> psycopg.Connection:
        with errors_scrubbed(self.url):
            return psycopg.connect(
                self.url,
                autocommit=True,
                connect_timeout=5,
                application_name=APPLICATION_NAME,
                options="-c TimeZone=UTC",
            )

    def _evaluate(self, conn: psycopg.Connection, horizon: int | None) -> PassReport:
        with conn.transaction():
            previous = _lock_cursor(conn, self.evaluator)
            through = previous if horizon is None else max(previous, horizon)
            through = min(through, previous + self.max_batch)
            observations = _new_observations(conn, previous, through)
            trackers = _load_trackers(conn, {o.book for o in observations})
            events, late = self._apply(trackers, observations)
            _store(conn, trackers, events, self.sinks)
            _advance_cursor(conn, self.evaluator, through)
        return PassReport(
            previous_cursor=previous,
            cursor=through,
            observations=len(observations),
            late=late,
            opened=sum(event.kind == "opened" for event in events),
            resolved=sum(event.kind == "resolved" for event in events),
            open_episodes=_open_episodes(conn),
            horizon_waited_out=horizon is None,
        )

    def _apply(
        self, trackers: dict[Key, EpisodeTracker], observations: Iterable[SpreadObservation]
    ) -> tuple[list[Event], int]:
        """Run every observation through the trackers of its book's thresholds."""
        events: list[Event] = []
        late = 0
        for observation in observations:
            was_late = False
            for threshold in self.rules.thresholds.for_book(observation.book):
                key = (observation.book, threshold)
                tracker = trackers.setdefault(key, EpisodeTracker(*key))
                try:
                    event = tracker.observe(observation, self.rules.quiet_seconds)
                except LateObservation as exc:
                    was_late = True
                    log.warning("%s: ignored (episodes follow observation time)", exc)
                    continue
                if event is not None:
                    events.append(event)
            late += was_late
        return events, late


def ensure_tables(conn: psycopg.Connection) -> None:
    """Create the observation and alert tables that do not exist yet.

    Existing tables are left alone without running their DDL: an index's `if not exists`
    still locks the table it would index, which would stall the sampler's inserts.
    """
    missing = [
        name
        for table, name in DDL
        if conn.execute("select to_regclass(%s)", [table]).fetchone() == (None,)
    ]
    if not missing:
        return
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", [DDL_LOCK])
        for name in missing:
            conn.execute(load_sql(name))


def settled_horizon(conn: psycopg.Connection) -> int | None:
    """The highest observation_id below which no insert is still in flight, or None if busy."""
    try:
        with conn.transaction():
            conn.execute(f"set local lock_timeout = '{HORIZON_LOCK_TIMEOUT}'")
            conn.execute("lock table ticker.spread_observations in share mode")
            row = conn.execute(
                "select coalesce(max(observation_id), 0) from ticker.spread_observations"
            ).fetchone()
    except psycopg.errors.LockNotAvailable:
        log.warning(
            "ticker.spread_observations stayed locked by a writer for %s: no evaluation this "
            "pass; a long transaction on the table delays alerts",
            HORIZON_LOCK_TIMEOUT,
        )
        return None
    return int(row[0]) if row else 0


def _lock_cursor(conn: psycopg.Connection, evaluator: str) -> int:
    conn.execute(
        "insert into ticker.spread_alert_cursor (evaluator, last_observation_id)"
        " values (%s, 0) on conflict (evaluator) do nothing",
        [evaluator],
    )
    row = conn.execute(
        "select last_observation_id from ticker.spread_alert_cursor"
        " where evaluator = %s for update",
        [evaluator],
    ).fetchone()
    return int(row[0]) if row else 0


def _advance_cursor(conn: psycopg.Connection, evaluator: str, through: int) -> None:
    conn.execute(
        "update ticker.spread_alert_cursor"
        " set last_observation_id = %s, passes = passes + 1, evaluated_at = clock_timestamp()"
        " where evaluator = %s",
        [through, evaluator],
    )


def read_cursor(conn: psycopg.Connection, evaluator: str = EVALUATOR) -> int | None:
    """The authoritative cursor, or None before the first pass."""
    if conn.execute("select to_regclass('ticker.spread_alert_cursor')").fetchone() == (None,):
        return None
    row = conn.execute(
        "select last_observation_id from ticker.spread_alert_cursor where evaluator = %s",
        [evaluator],
    ).fetchone()
    return int(row[0]) if row else None


def _new_observations(
    conn: psycopg.Connection, after: int, through: int
) -> list[SpreadObservation]:
    if through <= after:
        return []
    rows = conn.execute(
        load_sql("ticker/new_spread_observations"), {"after": after, "through": through}
    )
    return [SpreadObservation(*row) for row in rows.fetchall()]


def _load_trackers(conn: psycopg.Connection, books: set[str]) -> dict[Key, EpisodeTracker]:
    """The stored state of every (book, threshold) of these books."""
    if not books:
        return {}
    cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
    trackers: dict[Key, EpisodeTracker] = {}
    for row in cursor.execute(
        load_sql("ticker/spread_alert_state_of_books"), {"books": sorted(books)}
    ):
        key = (row["book"], row["threshold"])
        episode = None
        if row["alert_id"] is not None:
            episode = Episode(
                book=row["book"],
                threshold=row["threshold"],
                opened_at=row["opened_at"],
                opening_spread=row["opening_spread"],
                opened_observation_id=row["opened_observation_id"],
                peak_spread=row["peak_spread"],
                peak_at=row["peak_at"],
                alert_id=row["alert_id"],
            )
        trackers[key] = EpisodeTracker(
            *key,
            evaluated_through=row["evaluated_through"],
            episode=episode,
            calm_since=row["calm_since"],
        )
    return trackers


def _store(
    conn: psycopg.Connection,
    trackers: dict[Key, EpisodeTracker],
    events: list[Event],
    sinks: Sequence[Sink],
) -> None:
    """Write episodes, notifications and tracker state (in the caller's transaction)."""
    touched = [tracker for tracker in trackers.values() if tracker.touched]
    _store_episodes(conn, _episodes_to_store(touched, events))
    _queue_notifications(conn, events, sinks)
    with conn.cursor() as cursor:
        cursor.executemany(
            load_sql("ticker/upsert_spread_alert_state"),
            [
                {
                    "book": tracker.book,
                    "threshold": tracker.threshold,
                    "evaluated_through": tracker.evaluated_through,
                    "open_alert_id": tracker.episode.alert_id if tracker.episode else None,
                    "calm_since": tracker.calm_since,
                }
                for tracker in touched
            ],
        )


def _episodes_to_store(touched: list[EpisodeTracker], events: list[Event]) -> list[Episode]:
    """Episodes to write, stored ones first: a resolved episode must close before the next
    one of its (book, threshold) opens (one open episode per key is a unique index)."""
    episodes: dict[int, Episode] = {}
    for event in events:
        episodes[id(event.episode)] = event.episode
    for tracker in touched:
        if tracker.episode is not None:
            episodes[id(tracker.episode)] = tracker.episode
    ordered = list(episodes.values())
    return [e for e in ordered if e.alert_id is not None] + [
        e for e in ordered if e.alert_id is None
    ]


def _store_episodes(conn: psycopg.Connection, episodes: list[Episode]) -> None:
    for episode in episodes:
        params = {
            "book": episode.book,
            "threshold": episode.threshold,
            "opened_at": episode.opened_at,
            "opening_spread": episode.opening_spread,
            "opened_observation_id": episode.opened_observation_id,
            "peak_spread": episode.peak_spread,
            "peak_at": episode.peak_at,
            "resolved_at": episode.resolved_at,
            "resolving_spread": episode.resolving_spread,
            "resolved_observation_id": episode.resolved_observation_id,
            "alert_id": episode.alert_id,
        }
        if episode.alert_id is None:
            row = conn.execute(load_sql("ticker/insert_spread_alert"), params).fetchone()
            episode.alert_id = int(row[0]) if row else None
        else:
            conn.execute(load_sql("ticker/update_spread_alert"), params)


def _queue_notifications(
    conn: psycopg.Connection, events: list[Event], sinks: Sequence[Sink]
) -> None:
    """One outbox row per event and sink, in the sink's format."""
    with conn.cursor() as cursor:
        cursor.executemany(
            load_sql("ticker/insert_alert_notification"),
            [
                {
                    "alert_id": event.episode.alert_id,
                    "event": event.kind,
                    "sink": sink.name,
                    "idempotency_key": event.episode.idempotency_key(event.kind),
                    "message": event.episode.message(event.kind, slack=sink.slack),
                }
                for event in events
                for sink in sinks
            ],
        )


def _open_episodes(conn: psycopg.Connection) -> int:
    row = conn.execute("select count(*) from ticker.spread_alerts where resolved_at is null")
    found = row.fetchone()
    return int(found[0]) if found else 0


EPISODE_FIELDS = (
    "book",
    "threshold",
    "opened_at",
    "opening_spread",
    "peak_spread",
    "resolved_at",
)


def list_episodes(conn: psycopg.Connection) -> list[dict[str, object]]:
    """Every episode raised so far (SPEC 4 `bitso ticker alerts`), timestamps as SPEC 6 text."""
    if conn.execute("select to_regclass('ticker.spread_alerts')").fetchone() == (None,):
        return []
    cursor = conn.cursor(row_factory=psycopg.rows.dict_row)
    rows = cursor.execute(load_sql("ticker/spread_alert_episodes")).fetchall()
    return [
        {
            **row,
            "opened_at": iso(row["opened_at"]),
            "resolved_at": iso(row["resolved_at"]) if row["resolved_at"] else None,
        }
        for row in rows
    ]
