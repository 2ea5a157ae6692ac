-- marts.daily_balances: one row per user, currency and UTC day on which a counted movement
-- changed the balance, from marts.daily_movements. The balance is counted deposits minus
-- counted withdrawals, cumulative to the end of the day.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction. The opening
-- balance of each account is its last balance before the window (one index probe per account
-- active in the window), so a day costs what its movements cost, not a rescan of history.
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
