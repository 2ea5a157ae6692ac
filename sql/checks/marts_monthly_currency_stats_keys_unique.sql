-- marts.monthly_currency_stats: at most one row per month and currency. The unique index
-- monthly_currency_stats_key on exactly (month, currency) enforces it, so while that index is
-- there and valid the check reads only the catalog; without it, the months [window_start,
-- window_end) are counted by key.
with key_index as (
    select
        index.indisunique and index.indisvalid and array(
            select attribute.attname::text
            from unnest(index.indkey::int2[]) with ordinality as key (attnum, position)
            inner join pg_attribute as attribute
                on attribute.attrelid = index.indrelid and attribute.attnum = key.attnum
            order by key.position
        ) = array['month', 'currency'] as key_enforced
    from pg_index as index
    where index.indexrelid = to_regclass('marts.monthly_currency_stats_key')
),

repeated_keys as (
    select month, currency
    from marts.monthly_currency_stats
    where month >= %(window_start)s and month < %(window_end)s
    group by month, currency
    having count(*) > 1
),

final as materialized (
    select
        coalesce((select key_enforced from key_index), false) as key_enforced,
        case
            when (select key_enforced from key_index) then 0
            else (select count(*) from repeated_keys)
        end as repeated_keys
)

select *, repeated_keys = 0 as passed from final
