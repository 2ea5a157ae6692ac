-- ticker.spread_observations as versions before day partitioning created it (unpartitioned),
-- for the migration test.

create schema if not exists ticker;

create table if not exists ticker.spread_observations (
    -- insertion order, for readers that follow new rows (the alert sensor's cursor)
    observation_id bigint generated always as identity,

    -- the SPEC 6 record
    orderbook_timestamp timestamptz not null,
    book text not null,
    bid double precision,
    ask double precision,
    spread double precision,

    -- provenance
    source text,
    exchange_at timestamptz,
    received_at timestamptz,

    -- flags
    is_gap boolean not null,
    is_crossed boolean not null default false,

    primary key (book, orderbook_timestamp),
    constraint spread_observations_at_a_second
        check (orderbook_timestamp = date_trunc('second', orderbook_timestamp)),
    constraint spread_observations_source check (source in ('ws', 'rest')),
    constraint spread_observations_gap_has_no_prices check (
        (is_gap and bid is null and ask is null and spread is null and source is null)
        or (not is_gap and bid is not null and ask is not null and spread is not null
            and source is not null and exchange_at is not null and received_at is not null)
    )
);

alter table ticker.spread_observations
    -- the second had no message: the record holds the book's last snapshot (its source,
    -- exchange_at and received_at are that snapshot's)
    add column if not exists is_held boolean not null default false
        constraint spread_observations_held_is_not_gap check (not (is_held and is_gap)),
    -- when the row was written (the health check's clock: held rows keep an old received_at)
    add column if not exists recorded_at timestamptz not null default now();

create unique index if not exists spread_observations_observation_id
    on ticker.spread_observations (observation_id);
