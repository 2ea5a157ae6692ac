-- marts.daily_kpis: one row per UTC day of the window, activity or not, for BI: active users,
-- depositors, movements, logins, new users and currencies. Built from the other marts and
-- core.users. Amounts are per currency (JSON objects of exact numbers): summing across
-- currencies would mean nothing. A row for a day also records that the day is built.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction.
create table if not exists marts.daily_kpis (
    day date not null,
    -- users
    count_active_users integer not null,
    count_depositors integer not null,
    count_withdrawers integer not null,
    count_first_depositors integer not null,
    count_new_users integer not null,
    count_users_logged_in integer not null,
    -- counted (complete) movements
    count_deposits integer not null,
    count_withdrawals integer not null,
    amount_deposits_by_currency jsonb not null,
    amount_withdrawals_by_currency jsonb not null,
    -- failed movements
    count_failed_deposits integer not null,
    count_failed_withdrawals integer not null,
    -- logins and currencies
    count_logins integer not null,
    count_deposit_currencies integer not null,
    count_withdrawal_currencies integer not null
);

insert into marts.daily_kpis
with days as (
    select day::date as day
    from generate_series(
        %(window_start)s::date, %(window_end)s::date - 1, interval '1 day'
    ) as day
),

users as (
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

new_users as (
    select first_seen_on as day, count(*) as count_new_users
    from core.users
    where first_seen_on >= %(window_start)s and first_seen_on < %(window_end)s
    group by first_seen_on
),

currencies as (
    select
        day,
        sum(count_deposits) as count_deposits,
        sum(count_withdrawals) as count_withdrawals,
        jsonb_object_agg(currency, amount_deposits) filter (where count_deposits > 0)
            as amount_deposits_by_currency,
        jsonb_object_agg(currency, amount_withdrawals) filter (where count_withdrawals > 0)
            as amount_withdrawals_by_currency,
        sum(count_failed_deposits) as count_failed_deposits,
        sum(count_failed_withdrawals) as count_failed_withdrawals,
        count(*) filter (where count_deposits > 0) as count_deposit_currencies,
        count(*) filter (where count_withdrawals > 0) as count_withdrawal_currencies
    from marts.daily_currency_totals
    where day >= %(window_start)s and day < %(window_end)s
    group by day
),

logins as (
    select day, sum(count_logins) as count_logins, count(*) as count_users_logged_in
    from marts.daily_logins
    where day >= %(window_start)s and day < %(window_end)s
    group by day
),

final as (
    select
        days.day,
        -- users
        coalesce(users.count_active_users, 0) as count_active_users,
        coalesce(users.count_depositors, 0) as count_depositors,
        coalesce(users.count_withdrawers, 0) as count_withdrawers,
        coalesce(users.count_first_depositors, 0) as count_first_depositors,
        coalesce(new_users.count_new_users, 0) as count_new_users,
        coalesce(logins.count_users_logged_in, 0) as count_users_logged_in,
        -- counted movements
        coalesce(currencies.count_deposits, 0) as count_deposits,
        coalesce(currencies.count_withdrawals, 0) as count_withdrawals,
        coalesce(currencies.amount_deposits_by_currency, '{}') as amount_deposits_by_currency,
        coalesce(currencies.amount_withdrawals_by_currency, '{}')
            as amount_withdrawals_by_currency,
        -- failed movements
        coalesce(currencies.count_failed_deposits, 0) as count_failed_deposits,
        coalesce(currencies.count_failed_withdrawals, 0) as count_failed_withdrawals,
        -- logins and currencies
        coalesce(logins.count_logins, 0) as count_logins,
        coalesce(currencies.count_deposit_currencies, 0) as count_deposit_currencies,
        coalesce(currencies.count_withdrawal_currencies, 0) as count_withdrawal_currencies
    from days
    left join users on users.day = days.day
    left join new_users on new_users.day = days.day
    left join currencies on currencies.day = days.day
    left join logins on logins.day = days.day
)

select * from final;

-- Indexes come last: a full rebuild drops them and builds them again, sorted, after the insert.
create unique index if not exists daily_kpis_key
    on marts.daily_kpis (day);
