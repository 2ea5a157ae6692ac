-- Template for every mart's keys_unique check: marts.{table} holds at most one row per key
-- ({key}). A valid unique index of the table on some of those columns (a unique index on a
-- subset of the key makes the key unique too; `include` columns do not count) enforces it,
-- so while there is one the check reads only the catalog; without one, the window
-- [window_start, window_end) of {period} is counted by key.
-- Placeholders in braces are identifiers composed by bitso_platform.defs.marts.checks.
with key_index as (
    select coalesce(bool_or(index.indisvalid and index.indpred is null and (
        select bool_and(coalesce(attribute.attname::text = any(%(key_columns)s::text[]), false))
        from unnest((index.indkey::int2[])[0:index.indnkeyatts - 1]) as key (attnum)
        left join pg_attribute as attribute
            on attribute.attrelid = index.indrelid and attribute.attnum = key.attnum
    )), false) as key_enforced
    from pg_index as index
    where index.indrelid = to_regclass(%(table_name)s) and index.indisunique
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
        (select key_enforced from key_index) as key_enforced,
        case
            when (select key_enforced from key_index) then 0
            else (select count(*) from repeated_keys)
        end as repeated_keys
)

select *, repeated_keys = 0 as passed from final
