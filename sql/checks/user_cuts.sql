-- The user ids that cut core.users into %(parts)s ranges of about equal size, in key order:
-- where a check `by_users` splits its users (bitso_platform.defs.marts.checks.user_ranges).
-- Sized by the table's row estimate, so nothing is counted; each cut is an offset into the
-- key index.
with size as (
    select greatest(reltuples, 0)::bigint as users
    from pg_class
    where oid = 'core.users'::regclass
)

select cut.user_id
from generate_series(1, %(parts)s - 1) as part
cross join lateral (
    select core_users.user_id
    from core.users as core_users
    order by core_users.user_id
    offset part * (select users from size) / %(parts)s
    limit 1
) as cut
