-- marts.monthly_currency_stats: one row per currency and calendar month (UTC) with a counted
-- deposit or withdrawal, derived from the daily marts (never from raw or core): counts and
-- exact sums from marts.daily_currency_totals, distinct users from marts.daily_movements
-- (daily distinct users do not add up to a month's), averages = sum / count.
-- Inserts the months [window_start, window_end), emptied by the caller's transaction: the run's
-- window starts on the first of a month, and each month is recomputed from every built day of
-- it, so a month in progress holds the days built so far.
-- Its own checks follow, each after a line `-- check: <name>`: one row, `passed` decides.
create table if not exists marts.monthly_currency_stats (
    month date not null,
    currency text collate "C" not null,
    -- counted deposits
    count_deposits bigint not null,
    amount_deposits numeric not null,
    average_deposit numeric,
    count_depositors integer not null,
    -- counted withdrawals
    count_withdrawals bigint not null,
    amount_withdrawals numeric not null,
    average_withdrawal numeric,
    count_withdrawers integer not null,
    -- days
    count_days_built integer not null
);

insert into marts.monthly_currency_stats
with bounds as (
    select
        %(window_start)s::date as first_day,
        (date_trunc('month', %(window_end)s::date - 1) + interval '1 month')::date as end_day
),

totals as (
    select
        date_trunc('month', totals.day)::date as month,
        totals.currency,
        sum(totals.count_deposits) as count_deposits,
        sum(totals.amount_deposits) as amount_deposits,
        sum(totals.count_withdrawals) as count_withdrawals,
        sum(totals.amount_withdrawals) as amount_withdrawals
    from marts.daily_currency_totals as totals, bounds
    where totals.day >= bounds.first_day and totals.day < bounds.end_day
    group by 1, 2
    having sum(totals.count_deposits) > 0 or sum(totals.count_withdrawals) > 0
),

users as (
    select
        date_trunc('month', movements.day)::date as month,
        movements.currency,
        count(distinct movements.user_id) filter (where movements.count_deposits > 0)
            as count_depositors,
        count(distinct movements.user_id) filter (where movements.count_withdrawals > 0)
            as count_withdrawers
    from marts.daily_movements as movements, bounds
    where movements.day >= bounds.first_day and movements.day < bounds.end_day
    group by 1, 2
),

built as (
    select date_trunc('month', kpis.day)::date as month, count(*) as count_days_built
    from marts.daily_kpis as kpis, bounds
    where kpis.day >= bounds.first_day and kpis.day < bounds.end_day
    group by 1
),

final as (
    select
        totals.month,
        totals.currency,
        -- counted deposits
        totals.count_deposits,
        totals.amount_deposits,
        totals.amount_deposits / nullif(totals.count_deposits, 0) as average_deposit,
        users.count_depositors,
        -- counted withdrawals
        totals.count_withdrawals,
        totals.amount_withdrawals,
        totals.amount_withdrawals / nullif(totals.count_withdrawals, 0) as average_withdrawal,
        users.count_withdrawers,
        -- days
        coalesce(built.count_days_built, 0) as count_days_built
    from totals
    inner join users on users.month = totals.month and users.currency = totals.currency
    left join built on built.month = totals.month
)

select * from final;

-- Indexes come last: a full rebuild drops them and builds them again, sorted, after the insert.
create unique index if not exists monthly_currency_stats_key
    on marts.monthly_currency_stats (month, currency);

-- check: reconciles_with_daily_marts
-- marts.monthly_currency_stats reconciles on every month of [window_start, window_end): counts
-- and sums equal the month's marts.daily_currency_totals, averages are sum / count, and the
-- distinct users equal a direct count over core.transactions on the month's built days
-- (marts.daily_kpis), so the daily marts and the month agree on who moved money. The
-- facts are read by index range over the months' days, not whatever the planner guesses the
-- built days select: a month costs its days, however long the history.
with months as (
    select
        %(window_start)s::date as first_day,
        (date_trunc('month', %(window_end)s::date - 1) + interval '1 month')::date as end_day
),

built_days as (
    select day, date_trunc('month', day)::date as month
    from marts.daily_kpis
    where
        day >= (select first_day from months)
        and day < (select end_day from months)
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
    where
        totals.day >= (select first_day from months)
        and totals.day < (select end_day from months)
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
    where
        transactions.occurred_on >= (select first_day from months)
        and transactions.occurred_on < (select end_day from months)
        and transactions.is_complete
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
