-- marts.daily_movements: at most one row per day, user and currency. The unique index daily_movements_key
-- on exactly (day, user_id, currency) enforces it, so while that index is there and valid the check reads
-- only the catalog; without it, the window [window_start, window_end) is counted by key.
with key_index as (
    select
        index.indisunique and index.indisvalid and array(
            select attribute.attname::text
            from unnest(index.indkey::int2[]) with ordinality as key (attnum, position)
            inner join pg_attribute as attribute
                on attribute.attrelid = index.indrelid and attribute.attnum = key.attnum
            order by key.position
        ) = array['day', 'user_id', 'currency'] as key_enforced
    from pg_index as index
    where index.indexrelid = to_regclass('marts.daily_movements_key')
),

repeated_keys as (
    select day, user_id, currency
    from marts.daily_movements
    where day >= %(window_start)s and day < %(window_end)s
    group by day, user_id, currency
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
