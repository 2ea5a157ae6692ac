-- marts.daily_kpis: no count is negative in the window [window_start, window_end).
with final as (
    select
        count(*) as rows,
        count(*) filter (
            where
                count_active_users < 0
                or count_depositors < 0
                or count_withdrawers < 0
                or count_first_depositors < 0
                or count_new_users < 0
                or count_users_logged_in < 0
                or count_deposits < 0
                or count_withdrawals < 0
                or count_failed_deposits < 0
                or count_failed_withdrawals < 0
                or count_logins < 0
                or count_deposit_currencies < 0
                or count_withdrawal_currencies < 0
        ) as rows_with_negative_counts
    from marts.daily_kpis
    where day >= %(window_start)s and day < %(window_end)s
)

select *, rows_with_negative_counts = 0 as passed from final
