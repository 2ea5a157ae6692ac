-- Reconciliation of the last load of one snapshot: the recorded accounting adds up
-- (rows_read = clean + quarantined + exact_duplicates + blank), and the tables hold
-- exactly what it says (clean rows in the raw table, quarantined rows by reason).
with latest as (
    select *
    from raw.snapshot_loads
    where snapshot = %(snapshot)s
    order by load_id desc
    limit 1
),

recorded_quarantine as (
    select coalesce(sum(value::bigint), 0)::bigint as total
    from latest, jsonb_each_text(latest.quarantined)
),

stored_quarantine as (
    select coalesce(jsonb_object_agg(reason, rows), '{{}}'::jsonb) as by_reason
    from (
        select reason, count(*) as rows
        from raw.quarantine
        where snapshot = %(snapshot)s
        group by reason
    ) as counted
),

final as (
    select
        latest.rows_read,
        latest.clean,
        recorded_quarantine.total as quarantined,
        latest.exact_duplicates,
        latest.blank,
        (select count(*) from {table}) as clean_in_table,
        latest.quarantined as quarantined_by_reason,
        stored_quarantine.by_reason as quarantined_in_table
    from latest, recorded_quarantine, stored_quarantine
)

select * from final
