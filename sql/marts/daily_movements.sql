-- marts.daily_movements: one row per user, currency and UTC day with at least one deposit or
-- withdrawal, from core.transactions. Counted movements (status complete) and failed ones
-- (any other status) are kept apart, so other definitions stay possible.
-- Rebuilds the days [window_start, window_end) inside the caller's transaction.
-- Backfills group millions of nearly unique keys: sorting in memory beats hashing (a state
-- per group, spilled to disk) and parallel workers (which ship those states between
-- processes).
set local work_mem = '256MB';
set local maintenance_work_mem = '512MB';
set local enable_hashagg = off;
set local max_parallel_workers_per_gather = 0;

create schema if not exists marts;

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

delete from marts.daily_movements
where day >= %(window_start)s and day < %(window_end)s;

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
