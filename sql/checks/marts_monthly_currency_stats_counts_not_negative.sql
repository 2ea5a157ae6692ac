-- marts.monthly_currency_stats: no count is negative in the months [window_start, window_end),
-- and no user count exceeds the movements it counts.
with final as (
    select
        count(*) as rows,
        count(*) filter (
            where
                count_deposits < 0
                or count_withdrawals < 0
                or count_depositors < 0
                or count_withdrawers < 0
                or count_depositors > count_deposits
                or count_withdrawers > count_withdrawals
        ) as rows_with_impossible_counts
    from marts.monthly_currency_stats
    where month >= %(window_start)s and month < %(window_end)s
)

select *, rows_with_impossible_counts = 0 as passed from final
