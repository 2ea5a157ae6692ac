-- marts.daily_user_status agrees with core.transactions over the window
-- [window_start, window_end): per day, one ACTIVE row per user with a counted (complete)
-- deposit or withdrawal, with the day's counts; per user, each row adds its own counts to the
-- previous row's counts to date, deposit_ordinals matches them, and the counts before and at
-- the end of the window equal direct counts over core.transactions.
with window_users as (
    select distinct user_id
    from core.transactions
    where
        occurred_on >= %(window_start)s and occurred_on < %(window_end)s
        and is_complete
),

counted as (
    select transactions.user_id, transactions.occurred_on as day, transactions.kind
    from core.transactions as transactions
    inner join window_users on window_users.user_id = transactions.user_id
    where transactions.is_complete and transactions.occurred_on < %(window_end)s
),

facts_by_day as (
    select
        day,
        count(distinct user_id) as users,
        count(*) filter (where kind = 'deposit') as deposits,
        count(*) filter (where kind = 'withdrawal') as withdrawals
    from counted
    where day >= %(window_start)s
    group by day
),

facts_by_user as (
    select
        user_id,
        count(*) filter (where kind = 'deposit' and day < %(window_start)s) as deposits_before,
        count(*) filter (where kind = 'deposit') as deposits_to_end,
        count(*) filter (where kind = 'withdrawal' and day < %(window_start)s)
            as withdrawals_before,
        count(*) filter (where kind = 'withdrawal') as withdrawals_to_end
    from counted
    group by user_id
),

mart as (
    select
        *,
        lag(count_deposits_to_date) over by_user as previous_deposits_to_date,
        lag(count_withdrawals_to_date) over by_user as previous_withdrawals_to_date
    from marts.daily_user_status
    where day >= %(window_start)s and day < %(window_end)s
    window by_user as (partition by user_id order by day)
),

mart_by_day as (
    select
        day,
        count(*) as users,
        sum(count_deposits) as deposits,
        sum(count_withdrawals) as withdrawals
    from mart
    group by day
),

mart_by_user as (
    select
        user_id,
        min(count_deposits_to_date - count_deposits) as deposits_before,
        max(count_deposits_to_date) as deposits_to_end,
        min(count_withdrawals_to_date - count_withdrawals) as withdrawals_before,
        max(count_withdrawals_to_date) as withdrawals_to_end,
        count(*) filter (
            where
                status <> 'ACTIVE'
                or count_deposits + count_withdrawals = 0
                or deposit_ordinals <> int8range(
                    count_deposits_to_date - count_deposits + 1, count_deposits_to_date + 1
                )
                or previous_deposits_to_date + count_deposits <> count_deposits_to_date
                or previous_withdrawals_to_date + count_withdrawals
                <> count_withdrawals_to_date
        ) as broken_rows
    from mart
    group by user_id
),

final as materialized (
    select
        (select count(*) from mart) as active_user_days,
        (
            select count(*)
            from facts_by_day
            full join mart_by_day on mart_by_day.day = facts_by_day.day
            where
                (facts_by_day.users, facts_by_day.deposits, facts_by_day.withdrawals)
                is distinct from (mart_by_day.users, mart_by_day.deposits, mart_by_day.withdrawals)
        ) as mismatched_days,
        (
            select count(*)
            from facts_by_user
            full join mart_by_user on mart_by_user.user_id = facts_by_user.user_id
            where
                (
                    facts_by_user.deposits_before, facts_by_user.deposits_to_end,
                    facts_by_user.withdrawals_before, facts_by_user.withdrawals_to_end
                ) is distinct from (
                    mart_by_user.deposits_before, mart_by_user.deposits_to_end,
                    mart_by_user.withdrawals_before, mart_by_user.withdrawals_to_end
                )
                or mart_by_user.broken_rows > 0
        ) as wrong_users
)

select *, mismatched_days = 0 and wrong_users = 0 as passed from final
