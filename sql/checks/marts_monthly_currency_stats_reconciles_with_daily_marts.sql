-- marts.monthly_currency_stats reconciles on every month of [window_start, window_end): counts
-- and sums equal the month's marts.daily_currency_totals, averages are sum / count, and the
-- distinct users equal a direct count over core.transactions on the month's built days
-- (marts.daily_kpis), so the daily marts and the month agree on who moved money.
with built_days as (
    select day, date_trunc('month', day)::date as month
    from marts.daily_kpis
    where
        day >= %(window_start)s
        and day < (date_trunc('month', %(window_end)s::date - 1) + interval '1 month')::date
),

totals as (
    select
        built_days.month,
        totals.currency,
        sum(totals.count_deposits) as count_deposits,
        sum(totals.amount_deposits) as amount_deposits,
        sum(totals.count_withdrawals) as count_withdrawals,
        sum(totals.amount_withdrawals) as amount_withdrawals
    from marts.daily_currency_totals as totals
    inner join built_days on built_days.day = totals.day
    group by built_days.month, totals.currency
    having sum(totals.count_deposits) > 0 or sum(totals.count_withdrawals) > 0
),

users as (
    select
        built_days.month,
        transactions.currency collate "C" as currency,
        count(distinct transactions.user_id) filter (where transactions.kind = 'deposit')
            as count_depositors,
        count(distinct transactions.user_id) filter (where transactions.kind = 'withdrawal')
            as count_withdrawers
    from core.transactions
    inner join built_days on built_days.day = transactions.occurred_on
    where transactions.is_complete
    group by built_days.month, transactions.currency
),

compared as (
    select
        (
            totals.count_deposits, totals.amount_deposits,
            totals.amount_deposits / nullif(totals.count_deposits, 0), users.count_depositors,
            totals.count_withdrawals, totals.amount_withdrawals,
            totals.amount_withdrawals / nullif(totals.count_withdrawals, 0),
            users.count_withdrawers
        ) is not distinct from (
            stats.count_deposits, stats.amount_deposits, stats.average_deposit,
            stats.count_depositors, stats.count_withdrawals, stats.amount_withdrawals,
            stats.average_withdrawal, stats.count_withdrawers
        ) as matches
    from totals
    left join users on users.month = totals.month and users.currency = totals.currency
    full join (
        select *
        from marts.monthly_currency_stats
        where month >= %(window_start)s and month < %(window_end)s
    ) as stats
        on stats.month = totals.month and stats.currency = totals.currency
),

final as materialized (
    select
        count(*) as currency_months,
        count(*) filter (where not matches) as mismatched_currency_months
    from compared
)

select *, mismatched_currency_months = 0 as passed from final
