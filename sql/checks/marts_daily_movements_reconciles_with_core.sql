-- marts.daily_movements adds up to core.transactions on every day of the window
-- [window_start, window_end): counted and failed counts and amounts of deposits and
-- withdrawals, and no row without any movement.
with facts as (
    select
        occurred_on as day,
        count(*) filter (where kind = 'deposit' and is_complete) as count_deposits,
        coalesce(sum(amount) filter (where kind = 'deposit' and is_complete), 0)
            as amount_deposits,
        count(*) filter (where kind = 'withdrawal' and is_complete) as count_withdrawals,
        coalesce(sum(amount) filter (where kind = 'withdrawal' and is_complete), 0)
            as amount_withdrawals,
        count(*) filter (where kind = 'deposit' and not is_complete) as count_failed_deposits,
        coalesce(sum(amount) filter (where kind = 'deposit' and not is_complete), 0)
            as amount_failed_deposits,
        count(*) filter (where kind = 'withdrawal' and not is_complete)
            as count_failed_withdrawals,
        coalesce(sum(amount) filter (where kind = 'withdrawal' and not is_complete), 0)
            as amount_failed_withdrawals
    from core.transactions
    where occurred_on >= %(window_start)s and occurred_on < %(window_end)s
    group by occurred_on
),

mart as (
    select
        day,
        sum(count_deposits) as count_deposits,
        sum(amount_deposits) as amount_deposits,
        sum(count_withdrawals) as count_withdrawals,
        sum(amount_withdrawals) as amount_withdrawals,
        sum(count_failed_deposits) as count_failed_deposits,
        sum(amount_failed_deposits) as amount_failed_deposits,
        sum(count_failed_withdrawals) as count_failed_withdrawals,
        sum(amount_failed_withdrawals) as amount_failed_withdrawals,
        count(*) filter (
            where count_deposits + count_withdrawals
            + count_failed_deposits + count_failed_withdrawals = 0
        ) as empty_rows
    from marts.daily_movements
    where day >= %(window_start)s and day < %(window_end)s
    group by day
),

compared as (
    select
        coalesce(facts.day, mart.day) as day,
        coalesce(mart.empty_rows, 0) as empty_rows,
        (
            facts.count_deposits, facts.amount_deposits,
            facts.count_withdrawals, facts.amount_withdrawals,
            facts.count_failed_deposits, facts.amount_failed_deposits,
            facts.count_failed_withdrawals, facts.amount_failed_withdrawals
        ) is not distinct from (
            mart.count_deposits, mart.amount_deposits,
            mart.count_withdrawals, mart.amount_withdrawals,
            mart.count_failed_deposits, mart.amount_failed_deposits,
            mart.count_failed_withdrawals, mart.amount_failed_withdrawals
        ) as matches
    from facts
    full join mart on mart.day = facts.day
),

final as materialized (
    select
        count(*) as days_with_movements,
        count(*) filter (where not matches) as mismatched_days,
        min(day) filter (where not matches) as first_mismatched_day,
        coalesce(sum(empty_rows), 0)::bigint as empty_rows
    from compared
)

select *, mismatched_days = 0 and empty_rows = 0 as passed from final
