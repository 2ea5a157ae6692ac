-- marts.daily_movements: one row per user, currency and UTC day with at least one deposit or
-- withdrawal, from core.transactions. Counted movements (status complete) and failed ones
-- (any other status) are kept apart, so other definitions stay possible.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction.
-- Its own checks follow, each after a line `-- check: <name>`: one row, `passed` decides.
create table if not exists marts.daily_movements (
    day date not null,
    user_id text collate "C" not null,
    currency text collate "C" not null,
    -- counted (complete) movements
    count_deposits integer not null,
    amount_deposits numeric not null,
    count_withdrawals integer not null,
    amount_withdrawals numeric not null,
    -- failed movements (every status other than complete)
    count_failed_deposits integer not null,
    amount_failed_deposits numeric not null,
    count_failed_withdrawals integer not null,
    amount_failed_withdrawals numeric not null
);

insert into marts.daily_movements
with transactions as (
    select
        occurred_on,
        user_id,
        currency,
        kind,
        is_complete,
        amount
    from core.transactions
    where occurred_on >= %(window_start)s and occurred_on < %(window_end)s
),

final as (
    select
        occurred_on as day,
        user_id,
        currency,
        -- counted
        count(*) filter (where kind = 'deposit' and is_complete) as count_deposits,
        coalesce(sum(amount) filter (where kind = 'deposit' and is_complete), 0)
            as amount_deposits,
        count(*) filter (where kind = 'withdrawal' and is_complete) as count_withdrawals,
        coalesce(sum(amount) filter (where kind = 'withdrawal' and is_complete), 0)
            as amount_withdrawals,
        -- failed
        count(*) filter (where kind = 'deposit' and not is_complete) as count_failed_deposits,
        coalesce(sum(amount) filter (where kind = 'deposit' and not is_complete), 0)
            as amount_failed_deposits,
        count(*) filter (where kind = 'withdrawal' and not is_complete)
            as count_failed_withdrawals,
        coalesce(sum(amount) filter (where kind = 'withdrawal' and not is_complete), 0)
            as amount_failed_withdrawals
    from transactions
    group by occurred_on, user_id, currency
)

select * from final;

-- Indexes come last: a full rebuild drops them and builds them again, sorted, after the insert.
create unique index if not exists daily_movements_key
    on marts.daily_movements (day, user_id, currency);

-- check: reconciles_with_core
-- marts.daily_movements adds up to core.transactions on every day of the window
-- [window_start, window_end), and no row is empty. Recomputed another way than the mart's
-- per-column filters: core is grouped by day, kind and completeness, and the mart's columns
-- are unpivoted to that shape by what they are declared to hold, so a column that sums the
-- wrong kind or status, or drops some rows, disagrees.
with facts as (
    select
        occurred_on as day,
        kind::text as kind,
        is_complete,
        count(*) as count_movements,
        sum(amount) as amount
    from core.transactions
    where occurred_on >= %(window_start)s and occurred_on < %(window_end)s
    group by occurred_on, kind, is_complete
),

mart_days as (
    -- each day's column sums first (a row a day, not a row per movement row to unpivot)
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
            where
                count_deposits + count_withdrawals + count_failed_deposits
                + count_failed_withdrawals = 0
        ) as empty_rows
    from marts.daily_movements
    where day >= %(window_start)s and day < %(window_end)s
    group by day
),

mart as (
    select
        mart_days.day,
        columns.kind,
        columns.is_complete,
        columns.count_movements,
        columns.amount
    from mart_days
    cross join lateral (
        values
        ('deposit', true, mart_days.count_deposits, mart_days.amount_deposits),
        ('withdrawal', true, mart_days.count_withdrawals, mart_days.amount_withdrawals),
        ('deposit', false, mart_days.count_failed_deposits, mart_days.amount_failed_deposits),
        (
            'withdrawal', false,
            mart_days.count_failed_withdrawals, mart_days.amount_failed_withdrawals
        )
    ) as columns (kind, is_complete, count_movements, amount)
    where columns.count_movements <> 0 or columns.amount <> 0
),

compared as (
    select
        coalesce(facts.day, mart.day) as day,
        (facts.count_movements, facts.amount)
        is not distinct from (mart.count_movements, mart.amount) as matches
    from facts
    full join mart
        on
            mart.day = facts.day
            and mart.kind = facts.kind
            and mart.is_complete = facts.is_complete
),

days as (
    select day, bool_and(matches) as matches
    from compared
    group by day
),

final as materialized (
    select
        (select count(*) from days) as days_with_movements,
        (select count(*) from days where not matches) as mismatched_days,
        (select min(day) from days where not matches) as first_mismatched_day,
        (select coalesce(sum(empty_rows), 0)::bigint from mart_days) as empty_rows
)

select *, mismatched_days = 0 and empty_rows = 0 as passed from final
