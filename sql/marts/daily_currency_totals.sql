-- marts.daily_currency_totals: one row per currency and UTC day with at least one deposit or
-- withdrawal, from marts.daily_movements: counts, amounts and distinct users, counted
-- (complete) and failed kept apart.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction.
-- Its own checks follow, each after a line `-- check: <name>`: one row, `passed` decides.
create table if not exists marts.daily_currency_totals (
    day date not null,
    currency text collate "C" not null,
    -- counted (complete) movements
    count_deposits integer not null,
    amount_deposits numeric not null,
    count_depositors integer not null,
    count_withdrawals integer not null,
    amount_withdrawals numeric not null,
    count_withdrawers integer not null,
    -- failed movements
    count_failed_deposits integer not null,
    amount_failed_deposits numeric not null,
    count_failed_withdrawals integer not null,
    amount_failed_withdrawals numeric not null
);

insert into marts.daily_currency_totals
with movements as (
    select *
    from marts.daily_movements
    where day >= %(window_start)s and day < %(window_end)s
),

final as (
    select
        day,
        currency,
        -- counted
        sum(count_deposits) as count_deposits,
        sum(amount_deposits) as amount_deposits,
        count(*) filter (where count_deposits > 0) as count_depositors,
        sum(count_withdrawals) as count_withdrawals,
        sum(amount_withdrawals) as amount_withdrawals,
        count(*) filter (where count_withdrawals > 0) as count_withdrawers,
        -- failed
        sum(count_failed_deposits) as count_failed_deposits,
        sum(amount_failed_deposits) as amount_failed_deposits,
        sum(count_failed_withdrawals) as count_failed_withdrawals,
        sum(amount_failed_withdrawals) as amount_failed_withdrawals
    from movements
    group by day, currency
)

select * from final;

-- Indexes come last: a full rebuild drops them and builds them again, sorted, after the insert.
create unique index if not exists daily_currency_totals_key
    on marts.daily_currency_totals (day, currency);

-- check: reconciles_with_core
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
