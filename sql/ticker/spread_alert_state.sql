-- ticker.spread_alert_state: one row per book and threshold, the episode state machine between
-- evaluations (SPEC 6). Updated in the transaction that writes the alerts it implies.

create schema if not exists ticker;

create table if not exists ticker.spread_alert_state (
    book text not null,
    threshold double precision not null,

    -- the last observation applied (observations at or before it are late and ignored)
    evaluated_through timestamptz not null,

    -- the open episode, and the first observation of the current run at or below the
    -- threshold while it is open (null: the last observation was above)
    open_alert_id bigint references ticker.spread_alerts (alert_id),
    calm_since timestamptz,

    primary key (book, threshold),
    constraint spread_alert_state_calm_only_while_open
        check (calm_since is null or open_alert_id is not null)
);
