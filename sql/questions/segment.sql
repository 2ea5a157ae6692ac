-- Marketing: the users of segment `name` as of the end of day D (marts.user_segments, a view
-- evaluated for that day and segment only). Parameters: name, day. One row per user, sorted
-- by user_id (code point order).
with final as (
    select user_id
    from marts.user_segments
    where day = %(day)s and segment = %(name)s
)

select * from final order by user_id collate "C"
