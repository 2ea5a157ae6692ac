-- core.logins: one row per clean event whose name is in the login set (parameter
-- login_events, default {login}), with the UTC day it falls on. A view of raw.events, read
-- through an index of the login events by (day, user) that also carries the instant: every
-- reader takes a range of days (marts.daily_logins groups a window's logins by day and user
-- and keeps each group's first and last login; the KPIs count them), from that index alone (an
-- index-only scan: COPY FREEZE leaves the pages all-visible, and the load vacuums raw.events
-- after its commit). A table of the logins would copy 34 M rows on every load at scale 100 and
-- sort them, and its key would sort them again (docs/benchmarks.md, "The logins, a view of
-- the events"). user_id sorts in code point order (collation "C", as in core.users and the
-- marts): the index is built and read with byte comparisons, not the database's locale. No
-- index by user: the one reader that would probe it, Q4 without a day, reads
-- core.users.last_login_at. The loader drops the index before its COPY (a raw table is
-- written without indexes, loader.py); this builds it again, in the load's transaction.

-- A warehouse from before the view holds core.logins as a table.
do $$
begin
    if exists (
        select from pg_class
        where relnamespace = 'core'::regnamespace and relname = 'logins' and relkind = 'r'
    ) then
        drop table core.logins;
    end if;
end
$$;

-- One select, no CTE: Postgres keeps a view whose query has a WITH as a subquery of its own,
-- and the readers' groups by (day, user) would be sorted instead of read in index order.
create or replace view core.logins as
select
    id,
    user_id collate "C" as user_id,
    occurred_at as logged_in_at,
    (occurred_at at time zone 'UTC')::date as logged_in_on,
    event_name
from raw.events
where event_name = any(%(login_events)s);

-- The index's predicate is the view's (the planner matches them as written): both are the
-- login set of this load.
drop index if exists raw.logins_by_day;
create index logins_by_day
    on raw.events (((occurred_at at time zone 'UTC')::date), (user_id collate "C"))
    include (occurred_at)
    where event_name = any(%(login_events)s);
