-- core.users holds each clean user exactly once, and every fact's user is among them.
-- Materialized: inlined, every count would run again for `passed` (twice the scans).
with final as materialized (
    select
        (select count(*) from raw.users) as raw_users,
        (select count(*) from core.users) as core_users,
        (select count(*) from core.transactions as t
            where not exists (select 1 from core.users as u where u.user_id = t.user_id))
            as transactions_unknown_user,
        (select count(*) from core.logins as l
            where not exists (select 1 from core.users as u where u.user_id = l.user_id))
            as logins_unknown_user
)

select
    *,
    raw_users = core_users and transactions_unknown_user = 0 and logins_unknown_user = 0
        as passed
from final
