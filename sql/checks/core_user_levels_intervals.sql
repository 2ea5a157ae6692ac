-- Each user's level intervals chain without gaps: valid_to is the next valid_from, and
-- exactly one interval (rank 1) is open.
with chained as (
    select
        user_id,
        rank,
        valid_to,
        lag(valid_from) over (partition by user_id order by rank) as next_valid_from
    from core.user_levels
),

final as (
    select
        count(*) filter (
            where rank > 1 and valid_to is distinct from next_valid_from
        ) as broken_links,
        count(*) filter (where (rank = 1) <> (valid_to is null)) as wrongly_open
    from chained
)

select *, broken_links = 0 and wrongly_open = 0 as passed from final
