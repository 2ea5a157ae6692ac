-- marts.daily_user_features: on every row of the window [window_start, window_end)
-- the windows nest, 0 <= 7 days <= 30 days <= 90 days <= to date, for every count and amount.
with final as (
    select
        count(*) as rows,
        count(*) filter (
            where not (
                0 <= count_deposits_7d
                and count_deposits_7d <= count_deposits_30d
                and count_deposits_30d <= count_deposits_90d
                and count_deposits_90d <= count_deposits_to_date
                and 0 <= amount_deposits_7d
                and amount_deposits_7d <= amount_deposits_30d
                and amount_deposits_30d <= amount_deposits_90d
                and amount_deposits_90d <= amount_deposits_to_date
                and 0 <= count_withdrawals_7d
                and count_withdrawals_7d <= count_withdrawals_30d
                and count_withdrawals_30d <= count_withdrawals_90d
                and count_withdrawals_90d <= count_withdrawals_to_date
                and 0 <= amount_withdrawals_7d
                and amount_withdrawals_7d <= amount_withdrawals_30d
                and amount_withdrawals_30d <= amount_withdrawals_90d
                and amount_withdrawals_90d <= amount_withdrawals_to_date
            )
        ) as rows_not_nested
    from marts.daily_user_features
    where day >= %(window_start)s and day < %(window_end)s
)

select *, rows_not_nested = 0 as passed from final
