-- core.logins: one row per clean event whose name is in the login set (parameter
-- login_events, default {login}), with the UTC day it falls on. Stored in (day, user) order
-- with an index to match that also carries the instant: marts.daily_logins groups a window's
-- logins by day and user and takes each group's first and last login from that index alone
-- (an index-only scan once the load's vacuum has marked the pages), without sorting millions
-- of rows or reading the table on every backfill. user_id sorts in code point order
-- (collation "C", as in core.users and the marts): its index is built and read with byte
-- comparisons, not the database's locale. No index by user: the one reader that would probe
-- it, Q4 without a day, reads core.users.last_login_at.
set local work_mem = '512MB';

drop table if exists core.logins__next;

create table core.logins__next as
with final as (
    select
        id,
        user_id collate "C" as user_id,
        occurred_at as logged_in_at,
        (occurred_at at time zone 'UTC')::date as logged_in_on,
        event_name
    from raw.events
    where event_name = any(%(login_events)s)
)

select * from final
order by logged_in_on, user_id, logged_in_at;

drop table if exists core.logins;
alter table core.logins__next rename to logins;
alter table core.logins add primary key (id);
create index logins_by_day on core.logins (logged_in_on, user_id) include (logged_in_at);
