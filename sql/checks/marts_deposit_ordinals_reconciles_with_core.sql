-- marts.deposit_ordinals agrees with core.transactions over the window
-- [window_start, window_end): each day has one row per counted deposit, and each user's rows
-- are numbered from (counted deposits before the window) + 1 to (counted deposits to the end
-- of the window), one per deposit made in the window.
with window_users as (
    select distinct user_id
    from core.transactions
    where
        occurred_on >= %(window_start)s and occurred_on < %(window_end)s
        and kind = 'deposit' and is_complete
),

deposits as (
    select transactions.user_id, transactions.occurred_on as day
    from core.transactions as transactions
    inner join window_users on window_users.user_id = transactions.user_id
    where
        transactions.kind = 'deposit' and transactions.is_complete
        and transactions.occurred_on < %(window_end)s
),

facts_by_day as (
    select day, count(*) as deposits
    from deposits
    where day >= %(window_start)s
    group by day
),

facts_by_user as (
    select
        user_id,
        count(*) filter (where day >= %(window_start)s) as deposits,
        count(*) filter (where day < %(window_start)s) + 1 as first_ordinal,
        count(*) as last_ordinal
    from deposits
    group by user_id
),

mart as (
    select *
    from marts.deposit_ordinals
    where day >= %(window_start)s and day < %(window_end)s
),

mart_by_day as (
    select day, count(*) as deposits from mart group by day
),

mart_by_user as (
    select
        user_id,
        count(*) as deposits,
        min(ordinal) as first_ordinal,
        max(ordinal) as last_ordinal
    from mart
    group by user_id
),

final as materialized (
    select
        (
            select count(*)
            from facts_by_day
            full join mart_by_day on mart_by_day.day = facts_by_day.day
            where facts_by_day.deposits is distinct from mart_by_day.deposits
        ) as mismatched_days,
        (
            select count(*)
            from facts_by_user
            full join mart_by_user on mart_by_user.user_id = facts_by_user.user_id
            where
                (facts_by_user.deposits, facts_by_user.first_ordinal, facts_by_user.last_ordinal)
                is distinct from
                (mart_by_user.deposits, mart_by_user.first_ordinal, mart_by_user.last_ordinal)
        ) as mismatched_users
)

select *, mismatched_days = 0 and mismatched_users = 0 as passed from final
