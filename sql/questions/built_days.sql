-- Which days the marts are built for (a marts.daily_kpis row per built day), and how many of
-- the days from_day..to_day are built (null from_day: from the first built day; null to_day:
-- through the last). Questions refuse to answer from days that are not built.
with final as (
    select
        min(day) as first_day,
        max(day) as last_day,
        count(*) filter (
            where
                day >= coalesce(%(from_day)s::date, '-infinity')
                and day <= coalesce(%(to_day)s::date, 'infinity')
        ) as built_days
    from marts.daily_kpis
)

select * from final
