-- The deposit history Q2 and Q3 are answered from (bitso_platform.deposit_history): every
-- clean user of core.users in code point order, each with its counted deposits of
-- marts.deposit_ordinals in ordinal order, or one row without a deposit. A merge join of
-- core.users' key and deposit_ordinals_of_user (user_id, ordinal): nothing is hashed.
-- Sent as three values rather than a row per deposit: the user ids separated by newlines,
-- and per joined row its ordinal (0: no deposit) and its day (days since 1970-01-01) as
-- 4-byte big-endian integers. A user's first row is the one with ordinal 0 or 1.
with joined as (
    select
        users.user_id,
        coalesce(deposits.ordinal, 0)::integer as ordinal,
        coalesce(deposits.day - date '1970-01-01', 0) as day
    from core.users as users
    left join marts.deposit_ordinals as deposits on deposits.user_id = users.user_id
    order by users.user_id, deposits.ordinal
),

final as (
    select
        coalesce(string_agg(user_id, E'\n') filter (where ordinal <= 1), '') as user_ids,
        coalesce(string_agg(int4send(ordinal), ''::bytea), ''::bytea) as ordinals,
        coalesce(string_agg(int4send(day), ''::bytea), ''::bytea) as days
    from joined
)

select * from final
