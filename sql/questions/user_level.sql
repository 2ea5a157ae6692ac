-- A user's level and jurisdiction as of the end of day D: the interval of core.user_levels
-- holding the last instant of D, i.e. the latest change before D + 1 day 00:00 UTC (of
-- several changes in one instant, the one with the lower rank, the later line, wins). One
-- probe of index user_levels_as_of (user_id, valid_from desc, rank), covering both columns.
-- Parameters: user_id, day. No row: no level yet.
with final as (
    select level, jurisdiction
    from core.user_levels
    where
        user_id = %(user_id)s
        and valid_from < (%(day)s::date + 1)::timestamp at time zone 'UTC'
    order by valid_from desc, rank
    limit 1
)

select * from final
