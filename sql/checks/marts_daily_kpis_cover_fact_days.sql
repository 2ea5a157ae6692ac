-- The marts cover the facts' date range: no transaction or login falls before the first
-- built day (the first daily partition), and every day from the first to the last fact is
-- built, i.e. has its marts.daily_kpis row. Looks at the whole table, not a window.
with fact_days as (
    select min(occurred_on) as first_day, max(occurred_on) as last_day from core.transactions
    union all
    select min(logged_in_on), max(logged_in_on) from core.logins
),

facts as (
    select min(first_day) as first_fact_day, max(last_day) as last_fact_day from fact_days
),

built as (
    select min(day) as first_built_day, max(day) as last_built_day from marts.daily_kpis
),

missing as (
    select count(*) as unbuilt_fact_days
    from facts
    cross join generate_series(facts.first_fact_day, facts.last_fact_day, interval '1 day') as day
    where not exists (select from marts.daily_kpis as kpis where kpis.day = day.day::date)
),

final as materialized (
    select facts.*, built.*, missing.unbuilt_fact_days
    from facts, built, missing
)

select
    *,
    unbuilt_fact_days = 0 and coalesce(first_built_day <= first_fact_day, true) as passed
from final
