-- Q3: users whose counted (complete) deposits dated on or before day D number more than N,
-- i.e. whose (N+1)-th counted deposit is dated on or before D: the range ordinal = N+1 of
-- index deposit_ordinals_by_user (ordinal, user_id) include (day) of marts.deposit_ordinals,
-- read in user_id order and filtered on day. Parameters: day, more_than (N, default 5).
-- The answer is one text value, the user ids in code point order separated by newlines
-- ('' for none): one value crosses to the client many times faster than a row per user.
with frequent as (
    select user_id
    from marts.deposit_ordinals
    where ordinal = %(more_than)s::bigint + 1 and day <= %(day)s
    order by user_id
),

final as (
    select coalesce(string_agg(user_id, E'\n'), '') as answer
    from frequent
)

select * from final
