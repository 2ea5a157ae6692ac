-- marts.daily_movements: one row per user, currency and UTC day with at least one deposit or
-- withdrawal, from core.transactions. Counted movements (status complete) and failed ones
-- (any other status) are kept apart, so other definitions stay possible.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction.
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
