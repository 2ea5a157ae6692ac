-- Schema `core`: the modelled facts and dimensions, rebuilt from `raw` on every load.
create schema if not exists core;

-- Views of the marts read these two (marts.user_features_as_of): a table a view depends on
-- cannot be dropped, so each load refills them in place instead of swapping in a new table.
create table if not exists core.users (
    user_id text collate "C" not null,
    first_seen_on date,
    last_login_at timestamptz
);
-- A warehouse created before the column existed gets it (refilled by the next load).
alter table core.users add column if not exists last_login_at timestamptz;

create table if not exists core.user_levels (
    user_id text not null,
    level text,
    jurisdiction text,
    valid_from timestamptz,
    valid_to timestamptz,
    rank bigint not null
);
