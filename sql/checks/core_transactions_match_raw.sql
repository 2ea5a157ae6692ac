-- Every clean deposit and withdrawal is in core.transactions once, with the same amounts.
with raw_side as (
    select 'deposit' as kind, count(*) as rows, sum(amount::numeric) as amount from raw.deposits
    union all
    select 'withdrawal', count(*), sum(amount::numeric) from raw.withdrawals
),

core_side as (
    select kind, count(*) as rows, sum(amount) as amount from core.transactions group by kind
),

final as (
    select
        coalesce(sum(raw_side.rows), 0) as raw_rows,
        coalesce(sum(core_side.rows), 0) as core_rows,
        bool_and(
            raw_side.rows = coalesce(core_side.rows, 0)
            and raw_side.amount is not distinct from core_side.amount
        ) as passed
    from raw_side
    left join core_side using (kind)
)

select * from final
