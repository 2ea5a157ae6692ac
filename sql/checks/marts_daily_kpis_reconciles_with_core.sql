-- marts.daily_kpis has exactly one row per day of the window [window_start, window_end). Its
-- movement, login and new-user counts equal direct counts over core; its distinct-user and
-- currency figures equal the rows of the marts they summarize (each reconciled with core by
-- its own check), which spares a second distinct count over core.
with days as (
    select day::date as day
    from generate_series(
        %(window_start)s::date, %(window_end)s::date - 1, interval '1 day'
    ) as day
),

transactions as (
    select
        occurred_on as day,
        count(*) filter (where is_complete and kind = 'deposit') as count_deposits,
        count(*) filter (where is_complete and kind = 'withdrawal') as count_withdrawals,
        count(*) filter (where not is_complete and kind = 'deposit') as count_failed_deposits,
        count(*) filter (where not is_complete and kind = 'withdrawal')
            as count_failed_withdrawals
    from core.transactions
    where occurred_on >= %(window_start)s and occurred_on < %(window_end)s
    group by occurred_on
),

logins as (
    select logged_in_on as day, count(*) as count_logins
    from core.logins
    where logged_in_on >= %(window_start)s and logged_in_on < %(window_end)s
    group by logged_in_on
),

new_users as (
    select first_seen_on as day, count(*) as count_new_users
    from core.users
    where first_seen_on >= %(window_start)s and first_seen_on < %(window_end)s
    group by first_seen_on
),

active_users as (
    select
        day,
        count(*) as count_active_users,
        count(*) filter (where count_deposits > 0) as count_depositors,
        count(*) filter (where count_withdrawals > 0) as count_withdrawers,
        count(*) filter (where lower(deposit_ordinals) = 1) as count_first_depositors
    from marts.daily_user_status
    where day >= %(window_start)s and day < %(window_end)s
    group by day
),

users_logged_in as (
    select day, count(*) as count_users_logged_in
    from marts.daily_logins
    where day >= %(window_start)s and day < %(window_end)s
    group by day
),

currencies as (
    select
        day,
        count(*) filter (where count_deposits > 0) as count_deposit_currencies,
        count(*) filter (where count_withdrawals > 0) as count_withdrawal_currencies
    from marts.daily_currency_totals
    where day >= %(window_start)s and day < %(window_end)s
    group by day
),

expected as (
    select
        days.day,
        coalesce(active_users.count_active_users, 0) as count_active_users,
        coalesce(active_users.count_depositors, 0) as count_depositors,
        coalesce(active_users.count_withdrawers, 0) as count_withdrawers,
        coalesce(active_users.count_first_depositors, 0) as count_first_depositors,
        coalesce(new_users.count_new_users, 0) as count_new_users,
        coalesce(users_logged_in.count_users_logged_in, 0) as count_users_logged_in,
        coalesce(transactions.count_deposits, 0) as count_deposits,
        coalesce(transactions.count_withdrawals, 0) as count_withdrawals,
        coalesce(transactions.count_failed_deposits, 0) as count_failed_deposits,
        coalesce(transactions.count_failed_withdrawals, 0) as count_failed_withdrawals,
        coalesce(logins.count_logins, 0) as count_logins,
        coalesce(currencies.count_deposit_currencies, 0) as count_deposit_currencies,
        coalesce(currencies.count_withdrawal_currencies, 0) as count_withdrawal_currencies
    from days
    left join transactions on transactions.day = days.day
    left join logins on logins.day = days.day
    left join new_users on new_users.day = days.day
    left join active_users on active_users.day = days.day
    left join users_logged_in on users_logged_in.day = days.day
    left join currencies on currencies.day = days.day
),

mart as (
    select *
    from marts.daily_kpis
    where day >= %(window_start)s and day < %(window_end)s
),

compared as (
    select
        coalesce(expected.day, mart.day) as day,
        (
            expected.count_active_users, expected.count_depositors, expected.count_withdrawers,
            expected.count_first_depositors, expected.count_new_users,
            expected.count_users_logged_in, expected.count_deposits, expected.count_withdrawals,
            expected.count_failed_deposits, expected.count_failed_withdrawals,
            expected.count_logins, expected.count_deposit_currencies,
            expected.count_withdrawal_currencies
        ) is not distinct from (
            mart.count_active_users, mart.count_depositors, mart.count_withdrawers,
            mart.count_first_depositors, mart.count_new_users,
            mart.count_users_logged_in, mart.count_deposits, mart.count_withdrawals,
            mart.count_failed_deposits, mart.count_failed_withdrawals,
            mart.count_logins, mart.count_deposit_currencies,
            mart.count_withdrawal_currencies
        ) as matches
    from expected
    full join mart on mart.day = expected.day
),

final as materialized (
    select
        count(*) as days,
        count(*) filter (where not matches) as mismatched_days,
        min(day) filter (where not matches) as first_mismatched_day
    from compared
)

select *, mismatched_days = 0 as passed from final
