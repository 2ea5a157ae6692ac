-- marts.daily_currency_totals equals a direct aggregation of core.transactions for every
-- currency and day of the window [window_start, window_end): counts, amounts and distinct
-- users, counted and failed.
with facts as (
    select
        occurred_on as day,
        currency,
        count(*) filter (where kind = 'deposit' and is_complete) as count_deposits,
        coalesce(sum(amount) filter (where kind = 'deposit' and is_complete), 0)
            as amount_deposits,
        count(distinct user_id) filter (where kind = 'deposit' and is_complete)
            as count_depositors,
        count(*) filter (where kind = 'withdrawal' and is_complete) as count_withdrawals,
        coalesce(sum(amount) filter (where kind = 'withdrawal' and is_complete), 0)
            as amount_withdrawals,
        count(distinct user_id) filter (where kind = 'withdrawal' and is_complete)
            as count_withdrawers,
        count(*) filter (where kind = 'deposit' and not is_complete) as count_failed_deposits,
        coalesce(sum(amount) filter (where kind = 'deposit' and not is_complete), 0)
            as amount_failed_deposits,
        count(*) filter (where kind = 'withdrawal' and not is_complete)
            as count_failed_withdrawals,
        coalesce(sum(amount) filter (where kind = 'withdrawal' and not is_complete), 0)
            as amount_failed_withdrawals
    from core.transactions
    where occurred_on >= %(window_start)s and occurred_on < %(window_end)s
    group by occurred_on, currency
),

mart as (
    select *
    from marts.daily_currency_totals
    where day >= %(window_start)s and day < %(window_end)s
),

compared as (
    select
        (
            facts.count_deposits, facts.amount_deposits, facts.count_depositors,
            facts.count_withdrawals, facts.amount_withdrawals, facts.count_withdrawers,
            facts.count_failed_deposits, facts.amount_failed_deposits,
            facts.count_failed_withdrawals, facts.amount_failed_withdrawals
        ) is not distinct from (
            mart.count_deposits, mart.amount_deposits, mart.count_depositors,
            mart.count_withdrawals, mart.amount_withdrawals, mart.count_withdrawers,
            mart.count_failed_deposits, mart.amount_failed_deposits,
            mart.count_failed_withdrawals, mart.amount_failed_withdrawals
        ) as matches
    from facts
    full join mart on mart.day = facts.day and mart.currency = facts.currency
),

final as materialized (
    select
        count(*) as currency_days,
        count(*) filter (where not matches) as mismatched_currency_days
    from compared
)

select *, mismatched_currency_days = 0 as passed from final
