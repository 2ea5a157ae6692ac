-- Schema `marts` and marts.refreshes: one row per mart, the transaction that last rebuilt it
-- (any window) and when. A mart's rebuild updates its row in the same transaction, so a
-- reader that sees new rows also sees a new `refreshed_by`: the in-memory answers of Q2/Q3
-- (bitso_platform.deposit_history) compare it to know whether they are still current.
create schema if not exists marts;

create table if not exists marts.refreshes (
    mart text primary key,
    refreshed_by xid8 not null,
    refreshed_at timestamptz not null,
    window_start date not null,
    window_end date not null
);
