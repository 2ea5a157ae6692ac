-- Q2: clean users (core.users, the users snapshot) with no counted (complete) deposit on or
-- before day D, i.e. without a first counted deposit (ordinal 1 of marts.deposit_ordinals)
-- dated on or before D. Parameter: as_of (null = ever, as far as the marts are built). One
-- row per user, sorted by user_id (code point order).
with depositors as (
    select user_id
    from marts.deposit_ordinals
    where ordinal = 1 and day <= coalesce(%(as_of)s::date, 'infinity')
),

final as (
    select users.user_id
    from core.users as users
    where not exists (select from depositors where depositors.user_id = users.user_id)
)

select * from final order by user_id collate "C"
