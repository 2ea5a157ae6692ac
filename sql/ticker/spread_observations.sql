-- ticker.spread_observations: one row per book and second (SPEC 6), written by the sampler.
-- A second without a message for the book is held (is_held: the book's last snapshot, while
-- the connection that delivered it vouches for it) or else a gap row: is_gap = true and null
-- prices, nothing invented.
--
-- Partitioned by UTC day (`ticker.spread_observations_YYYYMMDD`), so a window's read, the
-- alert pass and the health query touch one day whatever the table's age, and retention
-- drops a whole day at once. Writers create a day's partition before writing into it
-- (`ticker.create_spread_observations_day`). Idempotent, run in one transaction under an
-- advisory lock: safe on every start, and it moves the rows of an unpartitioned table of
-- an earlier version into the partitioned one, keeping their observation_id.

select pg_advisory_xact_lock(hashtext('ticker.spread_observations'));

create schema if not exists ticker;

-- an earlier version's unpartitioned table: set aside (its index and identity sequence
-- names are freed for the new table) and moved at the end of this file
do $$
begin
    if exists (
        select from pg_class
        where oid = to_regclass('ticker.spread_observations') and relkind = 'r'
    ) then
        alter table ticker.spread_observations
            add column if not exists is_held boolean not null default false,
            add column if not exists recorded_at timestamptz not null default now();
        alter table ticker.spread_observations rename to spread_observations_unpartitioned;
        alter table ticker.spread_observations_unpartitioned
            rename constraint spread_observations_pkey to spread_observations_unpartitioned_pkey;
        drop index if exists ticker.spread_observations_observation_id;
        alter table ticker.spread_observations_unpartitioned
            alter column observation_id drop identity if exists;
    end if;
end
$$;

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
    -- the second had no message: the record holds the book's last snapshot (its source,
    -- exchange_at and received_at are that snapshot's)
    is_held boolean not null default false,

    -- when the row was written (the health check's clock: held rows keep an old received_at)
    recorded_at timestamptz not null default now(),

    primary key (book, orderbook_timestamp),
    constraint spread_observations_at_a_second
        check (orderbook_timestamp = date_trunc('second', orderbook_timestamp)),
    constraint spread_observations_source check (source in ('ws', 'rest')),
    constraint spread_observations_gap_has_no_prices check (
        (is_gap and bid is null and ask is null and spread is null and source is null)
        or (not is_gap and bid is not null and ask is not null and spread is not null
            and source is not null and exchange_at is not null and received_at is not null)
    ),
    constraint spread_observations_held_is_not_gap check (not (is_held and is_gap))
) partition by range (orderbook_timestamp);

-- not unique: a unique index of a partitioned table must hold the partition key; the
-- identity already hands out each id once
create index if not exists spread_observations_observation_id
    on ticker.spread_observations (observation_id);

-- the partition of a UTC day; concurrent writers serialize on the advisory lock
create or replace function ticker.create_spread_observations_day(day date) returns void
language plpgsql as $$
begin
    perform pg_advisory_xact_lock(hashtext('ticker.spread_observations'));
    execute format(
        'create table if not exists ticker.%I partition of ticker.spread_observations'
        ' for values from (%L) to (%L)',
        'spread_observations_' || to_char(day, 'YYYYMMDD'),
        day::timestamp at time zone 'UTC',
        (day + 1)::timestamp at time zone 'UTC'
    );
end
$$;

-- drop the partition of a UTC day (the retention job's step, once the day is proven)
create or replace function ticker.drop_spread_observations_day(day date) returns void
language plpgsql as $$
begin
    perform pg_advisory_xact_lock(hashtext('ticker.spread_observations'));
    execute format(
        'drop table if exists ticker.%I', 'spread_observations_' || to_char(day, 'YYYYMMDD')
    );
end
$$;

do $$
declare
    day date;
begin
    if to_regclass('ticker.spread_observations_unpartitioned') is null then
        return;
    end if;
    for day in
        select distinct (orderbook_timestamp at time zone 'UTC')::date
        from ticker.spread_observations_unpartitioned
    loop
        perform ticker.create_spread_observations_day(day);
    end loop;
    insert into ticker.spread_observations (
        observation_id, orderbook_timestamp, book, bid, ask, spread, source, exchange_at,
        received_at, is_gap, is_crossed, is_held, recorded_at
    ) overriding system value
    select
        observation_id, orderbook_timestamp, book, bid, ask, spread, source, exchange_at,
        received_at, is_gap, is_crossed, is_held, recorded_at
    from ticker.spread_observations_unpartitioned;
    -- new rows continue after the moved ones (the alert sensor's cursor only moves forward)
    perform setval(
        pg_get_serial_sequence('ticker.spread_observations', 'observation_id'),
        max(observation_id)
    )
    from ticker.spread_observations_unpartitioned
    having max(observation_id) is not null;
    drop table ticker.spread_observations_unpartitioned;
end
$$;
