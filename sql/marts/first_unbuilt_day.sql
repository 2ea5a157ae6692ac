-- The first day from partitions_start up to (not including) before_day that the marts are not
-- built for (no marts.daily_kpis row: the last daily mart of a day's build writes it), or
-- null when every one of them is built. The running totals of a build starting at before_day
-- (balances, counts to date, features) continue from those days.
with days as (
    select generate_series(
        %(partitions_start)s::date, %(before_day)s::date - 1, interval '1 day'
    )::date as day
),

final as (
    select min(days.day) as first_unbuilt_day
    from days
    where not exists (select from marts.daily_kpis as built where built.day = days.day)
)

select * from final
