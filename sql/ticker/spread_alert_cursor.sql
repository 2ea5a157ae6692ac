-- ticker.spread_alert_cursor: one row per evaluator, the authoritative cursor of the spread
-- alert sensor: every observation_id at or below last_observation_id has been evaluated.
-- The Dagster sensor cursor mirrors it; this row wins.

create schema if not exists ticker;

create table if not exists ticker.spread_alert_cursor (
    evaluator text primary key,
    last_observation_id bigint not null,
    passes bigint not null default 0,
    evaluated_at timestamptz
);
