-- marts.daily_user_features reconciles with marts.daily_movements on every row of the
-- window [window_start, window_end): each window's counted deposits and withdrawals (count
-- and exact amount) equal the account's daily rows dated in the 7, 30 or 90 days ending with
-- the row's day, or on or before it (to date), and the last days are the latest such rows.
-- Computed independently of the build (running frames over the daily rows, not added-up
-- changes); a row missing where a movement enters or leaves a window is counted too.
with window_accounts as (
    select distinct currency, user_id
    from marts.daily_user_features
    where day >= %(window_start)s and day < %(window_end)s
),

movements as (
    select
        movements.currency, movements.user_id, movements.day, movements.count_deposits,
        movements.amount_deposits, movements.count_withdrawals, movements.amount_withdrawals
    from marts.daily_movements as movements
    inner join window_accounts
        on
            window_accounts.currency = movements.currency
            and window_accounts.user_id = movements.user_id
    where movements.day < %(window_end)s
),

stream as (
    select *, false as is_row from movements

    union all

    select currency, user_id, day, 0, 0, 0, 0, true
    from marts.daily_user_features
    where day >= %(window_start)s and day < %(window_end)s
),

expected as (
    select
        currency,
        user_id,
        day,
        is_row,
        sum(count_deposits) over last_7 as count_deposits_7d,
        sum(amount_deposits) over last_7 as amount_deposits_7d,
        sum(count_deposits) over last_30 as count_deposits_30d,
        sum(amount_deposits) over last_30 as amount_deposits_30d,
        sum(count_deposits) over last_90 as count_deposits_90d,
        sum(amount_deposits) over last_90 as amount_deposits_90d,
        sum(count_deposits) over to_date as count_deposits_to_date,
        sum(amount_deposits) over to_date as amount_deposits_to_date,
        sum(count_withdrawals) over last_7 as count_withdrawals_7d,
        sum(amount_withdrawals) over last_7 as amount_withdrawals_7d,
        sum(count_withdrawals) over last_30 as count_withdrawals_30d,
        sum(amount_withdrawals) over last_30 as amount_withdrawals_30d,
        sum(count_withdrawals) over last_90 as count_withdrawals_90d,
        sum(amount_withdrawals) over last_90 as amount_withdrawals_90d,
        sum(count_withdrawals) over to_date as count_withdrawals_to_date,
        sum(amount_withdrawals) over to_date as amount_withdrawals_to_date,
        max(day) filter (where count_deposits > 0) over to_date as last_deposit_on,
        max(day) filter (where count_withdrawals > 0) over to_date as last_withdrawal_on
    from stream
    window
        to_date as (partition by currency, user_id order by day),
        last_7 as (to_date range between '6 days' preceding and current row),
        last_30 as (to_date range between '29 days' preceding and current row),
        last_90 as (to_date range between '89 days' preceding and current row)
),

compared as (
    select
        (
            expected.count_deposits_7d, expected.amount_deposits_7d,
            expected.count_deposits_30d, expected.amount_deposits_30d,
            expected.count_deposits_90d, expected.amount_deposits_90d,
            expected.count_deposits_to_date, expected.amount_deposits_to_date,
            expected.count_withdrawals_7d, expected.amount_withdrawals_7d,
            expected.count_withdrawals_30d, expected.amount_withdrawals_30d,
            expected.count_withdrawals_90d, expected.amount_withdrawals_90d,
            expected.count_withdrawals_to_date, expected.amount_withdrawals_to_date,
            expected.last_deposit_on, expected.last_withdrawal_on
        ) is not distinct from (
            features.count_deposits_7d, features.amount_deposits_7d,
            features.count_deposits_30d, features.amount_deposits_30d,
            features.count_deposits_90d, features.amount_deposits_90d,
            features.count_deposits_to_date, features.amount_deposits_to_date,
            features.count_withdrawals_7d, features.amount_withdrawals_7d,
            features.count_withdrawals_30d, features.amount_withdrawals_30d,
            features.count_withdrawals_90d, features.amount_withdrawals_90d,
            features.count_withdrawals_to_date, features.amount_withdrawals_to_date,
            features.last_deposit_on, features.last_withdrawal_on
        ) as matches
    from expected
    inner join marts.daily_user_features as features
        on
            features.currency = expected.currency
            and features.user_id = expected.user_id
            and features.day = expected.day
    where expected.is_row
),

changes as (
    -- the days in the window on which a counted movement enters or leaves a window
    select distinct movements.currency, movements.user_id, movements.day + shifts.shift as day
    from marts.daily_movements as movements
    cross join (values (0), (7), (30), (90)) as shifts (shift)
    where
        (movements.count_deposits > 0 or movements.count_withdrawals > 0)
        and movements.day >= %(window_start)s::date - 90
        and movements.day < %(window_end)s
        and movements.day + shifts.shift >= %(window_start)s
        and movements.day + shifts.shift < %(window_end)s
),

final as materialized (
    select
        (select count(*) from compared) as rows_compared,
        (select count(*) from compared where not matches) as mismatched_rows,
        (
            select count(*)
            from changes
            where not exists (
                select
                from marts.daily_user_features as features
                where
                    features.currency = changes.currency
                    and features.user_id = changes.user_id
                    and features.day = changes.day
            )
        ) as missing_change_rows
)

select *, mismatched_rows = 0 and missing_change_rows = 0 as passed from final
