-- marts.daily_user_status: no count is negative in the window [window_start, window_end).
with final as (
    select
        count(*) as rows,
        count(*) filter (
            where
                count_deposits < 0
                or count_withdrawals < 0
                or count_currencies < 0
                or count_deposits_to_date < 0
                or count_withdrawals_to_date < 0
        ) as rows_with_negative_counts
    from marts.daily_user_status
    where day >= %(window_start)s and day < %(window_end)s
)

select *, rows_with_negative_counts = 0 as passed from final
