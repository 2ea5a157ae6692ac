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
    -- no balance precedes the window (a full rebuild): nothing to look up, nothing to sort
    select distinct user_id, currency from movements
    where exists (select from marts.daily_balances where day < %(window_start)s)
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
-- previous row, the first one to the account's last balance before the window (0 if none),
-- and the balance at the end of the window is that one plus the account's counted movements
-- of the window in core.transactions. The balance before the window is the row checked when
-- its own day was built, so the proof is an induction over the days built: a backfill from
-- the first day (nothing before it) proves every balance from core alone, and a later day
-- costs a few index probes per account active in it, not a read of the account's history.
-- Days before the window left unbuilt show as a counted movement in core between the
-- account's last balance and the window.
with counted as (
    select
        user_id,
        currency,
        occurred_on as day,
        case when kind = 'deposit' then amount else -amount end as net_amount
    from core.transactions
    where
        occurred_on >= %(window_start)s and occurred_on < %(window_end)s
        and is_complete
),

facts_by_day as (
    select day, sum(net_amount) as net_amount
    from counted
    group by day
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

history as (
    -- what precedes the window: a backfill from the first day probes nothing
    select
        (select min(day) from marts.daily_balances) < %(window_start)s as has_balances,
        (select min(occurred_on) from core.transactions) < %(window_start)s as has_facts
),

window_sums as not materialized (
    -- inlined in both branches below: only the branch that runs aggregates
    select user_id, currency, sum(net_amount) as net_amount
    from counted
    group by user_id, currency
),

facts_by_account as (
    -- nothing precedes the window (a backfill from the first day): every account opens at 0
    select
        user_id,
        currency,
        0 as opening,
        net_amount as closing,
        false as moved_since_last_balance
    from window_sums
    where not (select has_balances or has_facts from history)
    union all
    select
        window_sums.user_id,
        window_sums.currency,
        coalesce(before.balance, 0) as opening,
        coalesce(before.balance, 0) + window_sums.net_amount as closing,
        unbuilt.moved as moved_since_last_balance
    from window_sums
    left join lateral (
        -- the account's last balance before the window: one probe of daily_balances_key
        select balances.day, balances.balance
        from marts.daily_balances as balances
        where
            (select has_balances from history)
            and balances.user_id = window_sums.user_id
            and balances.currency = window_sums.currency
            and balances.day < %(window_start)s
        order by balances.day desc
        limit 1
    ) as before on true
    cross join lateral (
        -- a counted movement after that balance's day and before the window (days not
        -- built): a range of transactions_by_user per kind, empty when history is built
        select count(*) > 0 as moved
        from (values ('deposit'), ('withdrawal')) as kinds (kind)
        cross join lateral (
            select
            from core.transactions as transactions
            where
                (select has_facts from history)
                and transactions.user_id = window_sums.user_id
                and transactions.kind = kinds.kind
                and transactions.occurred_at >= coalesce(
                    (before.day + 1)::timestamp at time zone 'UTC', '-infinity'
                )
                and transactions.occurred_at < %(window_start)s::timestamp at time zone 'UTC'
                and transactions.currency = window_sums.currency
                and transactions.is_complete
            limit 1
        ) as transactions
    ) as unbuilt
    where (select has_balances or has_facts from history)
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
                or facts_by_account.moved_since_last_balance
        ) as wrong_accounts
)

select *, mismatched_days = 0 and wrong_accounts = 0 as passed from final
