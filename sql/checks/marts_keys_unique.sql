-- Template for every mart's keys_unique check: marts.{table} holds at most one row per key
-- ({key}). The unique index marts.{table}_key on exactly those columns (in any order)
-- enforces it, so while that index is there and valid the check reads only the catalog;
-- without it, the window [window_start, window_end) of {period} is counted by key.
-- Placeholders in braces are identifiers composed by bitso_platform.defs.marts.checks.
with key_index as (
    select
        index.indisunique and index.indisvalid and array(
            select attribute.attname::text
            from unnest(index.indkey::int2[]) as key (attnum)
            inner join pg_attribute as attribute
                on attribute.attrelid = index.indrelid and attribute.attnum = key.attnum
            order by attribute.attname::text collate "C"
        ) = %(key_columns)s::text[] as key_enforced
    from pg_index as index
    where index.indexrelid = to_regclass(%(key_index)s)
),

repeated_keys as (
    select {key}
    from marts.{table}
    where {period} >= %(window_start)s and {period} < %(window_end)s
    group by {key}
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
