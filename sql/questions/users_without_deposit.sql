-- Q2: clean users (core.users, the users snapshot) with no counted (complete) deposit on or
-- before day D, i.e. without a first counted deposit (ordinal 1 of marts.deposit_ordinals)
-- dated on or before D. Parameter: as_of (null = ever, as far as the marts are built).
-- A merge anti join of two indexes read in user_id order (core.users' key and the range
-- ordinal = 1 of deposit_ordinals_by_user): nothing is hashed or sorted. The first deposits
-- are their own query level (offset 0): inside the anti join, the planner would not see that
-- the range is in user_id order and would sort it. The answer is one text value, the user ids
-- in code point order separated by newlines ('' for none): one value crosses to the client
-- many times faster than a row per user.
with first_deposits as (
    select user_id
    from marts.deposit_ordinals
    where ordinal = 1 and day <= coalesce(%(as_of)s::date, 'infinity')
    order by user_id
    offset 0
),

without_deposit as (
    select users.user_id
    from core.users as users
    where not exists (select from first_deposits where first_deposits.user_id = users.user_id)
    order by users.user_id
),

final as (
    select coalesce(string_agg(user_id, E'\n'), '') as answer
    from without_deposit
)

select * from final
