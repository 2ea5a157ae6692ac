-- marts.daily_user_features: at most one row per user, currency and day. The unique
-- index daily_user_features_key on exactly (user_id, currency, day) enforces it, so
-- while that index is there and valid the check reads only the catalog; without it, the window
-- [window_start, window_end) is counted by key.
with key_index as (
    select
        index.indisunique and index.indisvalid and array(
            select attribute.attname::text
            from unnest(index.indkey::int2[]) with ordinality as key (attnum, position)
            inner join pg_attribute as attribute
                on attribute.attrelid = index.indrelid and attribute.attnum = key.attnum
            order by key.position
        ) = array['user_id', 'currency', 'day'] as key_enforced
    from pg_index as index
    where index.indexrelid = to_regclass('marts.daily_user_features_key')
),

repeated_keys as (
    select currency, user_id, day
    from marts.daily_user_features
    where day >= %(window_start)s and day < %(window_end)s
    group by currency, user_id, day
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
