-- marts.daily_currency_totals: no count is negative in the window [window_start, window_end).
with final as (
    select
        count(*) as rows,
        count(*) filter (
            where
                count_deposits < 0
                or count_depositors < 0
                or count_withdrawals < 0
                or count_withdrawers < 0
                or count_failed_deposits < 0
                or count_failed_withdrawals < 0
        ) as rows_with_negative_counts
    from marts.daily_currency_totals
    where day >= %(window_start)s and day < %(window_end)s
)

select *, rows_with_negative_counts = 0 as passed from final
