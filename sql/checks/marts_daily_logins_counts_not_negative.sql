-- marts.daily_logins: no count is negative in the window [window_start, window_end).
with final as (
    select
        count(*) as rows,
        count(*) filter (
            where count_logins < 0
        ) as rows_with_negative_counts
    from marts.daily_logins
    where day >= %(window_start)s and day < %(window_end)s
)

select *, rows_with_negative_counts = 0 as passed from final
