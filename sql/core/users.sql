-- core.users: one row per clean user of the users snapshot, with the first UTC day the
-- user shows up in transactions or events (null for users without any activity). user_id
-- sorts in code point order (collation "C", as in the marts), so the primary key lists the
-- users in the order the questions answer in. Refilled in place (table: sql/core/schema.sql),
-- inside the caller's transaction; the key is built again after the insert, sorted.
truncate core.users;
alter table core.users drop constraint if exists users_pkey;

-- Each user's first activity reads every event. It is built as a table of its own because
-- CREATE TABLE AS may scan and aggregate in parallel, and INSERT ... SELECT never does.
drop table if exists core.users__first_seen;

create table core.users__first_seen as
with activity as (
    select user_id, min(occurred_at) as first_seen_at from raw.deposits group by user_id
    union all
    select user_id, min(occurred_at) from raw.withdrawals group by user_id
    union all
    select user_id, min(occurred_at) from raw.events group by user_id
),

final as (
    select user_id, min(first_seen_at) as first_seen_at from activity group by user_id
)

select * from final;

insert into core.users (user_id, first_seen_on)
with final as (
    select
        users.user_id collate "C" as user_id,
        (first_seen.first_seen_at at time zone 'UTC')::date as first_seen_on
    from raw.users as users
    left join core.users__first_seen as first_seen on first_seen.user_id = users.user_id
)

select * from final;

drop table core.users__first_seen;
alter table core.users add primary key (user_id);
