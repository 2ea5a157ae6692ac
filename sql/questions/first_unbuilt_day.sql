-- The first day from the first daily partition through day `last` that the marts are not
-- built for (no marts.daily_kpis row): where a build must start so that every running total
-- finds the days before it built. Parameters: start, last. Null: every day is built.
with final as (
    select min(candidate)::date as answer
    from generate_series(%(start)s::date, %(last)s::date, interval '1 day') as candidate
    where not exists (select from marts.daily_kpis where day = candidate::date)
)

select * from final
