-- core.users: one row per clean user of the users snapshot, with the first UTC day the
-- user shows up in transactions or events (null for users without any activity) and the
-- latest login of the loaded data (an event named in parameter login_events, as core.logins
-- holds; null without any: Q4 without a day reads it with one probe of the key). user_id
-- sorts in code point order (collation "C", as in the marts), so the primary key lists the
-- users in the order the questions answer in. Refilled in place (table: sql/core/schema.sql),
-- inside the caller's transaction; the key is built again after the insert, sorted.
truncate core.users;
alter table core.users drop constraint if exists users_pkey;

-- Each user's activity reads every event: the latest login comes with the first activity from
-- the same grouping, where an index of every login by user would sort them all on each load.
-- It is built as a table of its own because CREATE TABLE AS may scan and aggregate in
-- parallel, and INSERT ... SELECT never does.
drop table if exists core.users__activity;

create table core.users__activity as
with activity as (
    select user_id, min(occurred_at) as first_seen_at, null::timestamptz as last_login_at
    from raw.deposits
    group by user_id
    union all
    select user_id, min(occurred_at), null from raw.withdrawals group by user_id
    union all
    select
        user_id,
        min(occurred_at),
        max(occurred_at) filter (where event_name = any(%(login_events)s))
    from raw.events
    group by user_id
),

final as (
    select
        user_id,
        min(first_seen_at) as first_seen_at,
        max(last_login_at) as last_login_at
    from activity
    group by user_id
)

select * from final;

insert into core.users (user_id, first_seen_on, last_login_at)
with final as (
    select
        users.user_id collate "C" as user_id,
        (activity.first_seen_at at time zone 'UTC')::date as first_seen_on,
        activity.last_login_at
    from raw.users as users
    left join core.users__activity as activity on activity.user_id = users.user_id
)

select * from final;

drop table core.users__activity;
alter table core.users add primary key (user_id);
