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
