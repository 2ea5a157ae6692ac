-- ticker.spread_alerts: one row per alert episode of a book and threshold (SPEC 6), written by
-- the spread alert evaluator in the same transaction as its state, cursor and notifications.
-- Times are the observations' own timestamps; *_recorded_at are the wall-clock commits.
-- Idempotent: safe to run on every start.

create schema if not exists ticker;

create table if not exists ticker.spread_alerts (
    alert_id bigint generated always as identity primary key,

    -- the episode
    book text not null,
    threshold double precision not null,
    opened_at timestamptz not null,
    opening_spread double precision not null,
    peak_spread double precision not null,
    peak_at timestamptz not null,
    resolved_at timestamptz,
    resolving_spread double precision,

    -- provenance: the observations that opened and resolved it, and when it was recorded
    opened_observation_id bigint not null,
    resolved_observation_id bigint,
    opened_recorded_at timestamptz not null default clock_timestamp(),
    resolved_recorded_at timestamptz,

    unique (book, threshold, opened_at),
    constraint spread_alerts_above_threshold check (
        threshold > 0 and opening_spread > threshold and peak_spread >= opening_spread
    ),
    constraint spread_alerts_resolution check (
        (resolved_at is null and resolving_spread is null and resolved_observation_id is null)
        or (resolved_at > opened_at and resolving_spread <= threshold
            and resolved_observation_id is not null)
    )
);

-- at most one open episode per book and threshold
create unique index if not exists spread_alerts_one_open
    on ticker.spread_alerts (book, threshold) where resolved_at is null;
