-- marts.daily_balances: one row per user, currency and UTC day on which a counted movement
-- changed the balance, from marts.daily_movements. The balance is counted deposits minus
-- counted withdrawals, cumulative to the end of the day.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction. The opening
-- balance of each account is its last balance before the window (one index probe per account
-- active in the window), so a day costs what its movements cost, not a rescan of history.
-- Its own checks follow, each after a line `-- check: <name>`: one row, `passed` decides.
create table if not exists marts.daily_balances (
    day date not null,
    user_id text collate "C" not null,
    currency text collate "C" not null,
    -- the day's counted movements
    amount_deposits numeric not null,
    amount_withdrawals numeric not null,
    net_amount numeric not null,
    -- as of the end of the day
    balance numeric not null
);

insert into marts.daily_balances
with movements as (
    select
        day,
        user_id,
        currency,
        amount_deposits,
        amount_withdrawals,
        amount_deposits - amount_withdrawals as net_amount
    from marts.daily_movements
    where
        day >= %(window_start)s and day < %(window_end)s
        and (count_deposits > 0 or count_withdrawals > 0)
),

accounts as (
    select distinct user_id, currency from movements
),

opening as (
    select
        accounts.user_id,
        accounts.currency,
        previous.balance
    from accounts
    cross join lateral (
        select balances.balance
        from marts.daily_balances as balances
        where
            balances.user_id = accounts.user_id
            and balances.currency = accounts.currency
            and balances.day < %(window_start)s
        order by balances.day desc
        limit 1
    ) as previous
),

final as (
    select
        movements.day,
        movements.user_id,
        movements.currency,
        -- the day's counted movements
        movements.amount_deposits,
        movements.amount_withdrawals,
        movements.net_amount,
        -- as of the end of the day
        coalesce(opening.balance, 0) + sum(movements.net_amount) over (
            partition by movements.user_id, movements.currency order by movements.day
        ) as balance
    from movements
    left join opening
        on opening.user_id = movements.user_id and opening.currency = movements.currency
)

select * from final;

-- Indexes come last: a full rebuild drops them and builds them again, sorted, after the insert.
create unique index if not exists daily_balances_key
    on marts.daily_balances (user_id, currency, day);
create index if not exists daily_balances_by_day on marts.daily_balances (day);

-- check: equal_sum_of_movements
-- Every running balance of marts.daily_balances in the window [window_start, window_end)
-- equals the counted deposits minus counted withdrawals of its user and currency up to the
-- end of its day. Proven without recomputing each row from history: per day, the balance
-- changes add up to core.transactions; per account, each row adds its own change to the
-- previous row; and the account's balance before the window and at its end equal direct sums
-- over core.transactions.
with window_accounts as (
    select distinct user_id, currency
    from core.transactions
    where
        occurred_on >= %(window_start)s and occurred_on < %(window_end)s
        and is_complete
),

counted as (
    select
        transactions.user_id,
        transactions.currency,
        transactions.occurred_on as day,
        case
            when transactions.kind = 'deposit' then transactions.amount
            else -transactions.amount
        end as net_amount
    from core.transactions as transactions
    inner join window_accounts
        on window_accounts.user_id = transactions.user_id
        and window_accounts.currency = transactions.currency
    where transactions.is_complete and transactions.occurred_on < %(window_end)s
),

facts_by_day as (
    select day, sum(net_amount) as net_amount
    from counted
    where day >= %(window_start)s
    group by day
),

facts_by_account as (
    select
        user_id,
        currency,
        coalesce(sum(net_amount) filter (where day < %(window_start)s), 0) as opening,
        sum(net_amount) as closing
    from counted
    group by user_id, currency
),

mart as (
    select
        user_id,
        currency,
        day,
        net_amount,
        balance,
        lag(balance) over by_account as previous_balance,
        lead(day) over by_account is null as is_last
    from marts.daily_balances
    where day >= %(window_start)s and day < %(window_end)s
    window by_account as (partition by user_id, currency order by day)
),

mart_by_day as (
    select day, sum(net_amount) as net_amount
    from mart
    group by day
),

mart_by_account as (
    select
        user_id,
        currency,
        min(balance - net_amount) filter (where previous_balance is null) as opening,
        min(balance) filter (where is_last) as closing,
        count(*) filter (where balance <> previous_balance + net_amount) as broken_links
    from mart
    group by user_id, currency
),

final as materialized (
    select
        (select count(*) from mart) as balances,
        (
            select count(*)
            from facts_by_day
            full join mart_by_day on mart_by_day.day = facts_by_day.day
            where facts_by_day.net_amount is distinct from mart_by_day.net_amount
        ) as mismatched_days,
        (
            select count(*)
            from facts_by_account
            full join mart_by_account
                on mart_by_account.user_id = facts_by_account.user_id
                and mart_by_account.currency = facts_by_account.currency
            where
                (facts_by_account.opening, facts_by_account.closing)
                is distinct from (mart_by_account.opening, mart_by_account.closing)
                or mart_by_account.broken_links > 0
        ) as wrong_accounts
)

select *, mismatched_days = 0 and wrong_accounts = 0 as passed from final
