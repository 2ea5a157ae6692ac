-- Q3: users whose counted (complete) deposits dated on or before day D number more than N,
-- i.e. whose (N+1)-th counted deposit is dated on or before D: one range of the index
-- (ordinal, day, user_id) of marts.deposit_ordinals. Parameters: day, more_than (N, default
-- 5). One row per user, sorted by user_id (code point order).
with final as (
    select user_id
    from marts.deposit_ordinals
    where ordinal = %(more_than)s::bigint + 1 and day <= %(day)s
)

select * from final order by user_id collate "C"
