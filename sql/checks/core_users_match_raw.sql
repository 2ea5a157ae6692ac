-- core.users holds each clean user exactly once, and every fact's user is among them.
with final as (
    select
        (select count(*) from raw.users) as raw_users,
        (select count(*) from core.users) as core_users,
        (select count(*) from core.transactions
            where user_id not in (select user_id from core.users)) as transactions_unknown_user,
        (select count(*) from core.logins
            where user_id not in (select user_id from core.users)) as logins_unknown_user
)

select
    *,
    raw_users = core_users and transactions_unknown_user = 0 and logins_unknown_user = 0
        as passed
from final
