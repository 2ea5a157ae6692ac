-- marts.daily_kpis: one row per UTC day of the window, activity or not, for BI: active users,
-- depositors, movements, logins, new users and currencies. Built from the other marts and
-- core.users. Amounts are per currency (JSON objects of exact numbers): summing across
-- currencies would mean nothing. A row for a day also records that the day is built.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction.
-- Its own checks follow, each after a line `-- check: <name>`: one row, `passed` decides.
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

-- check: cover_fact_days
-- The marts cover the facts' date range: no transaction or login falls before the first
-- built day (the first daily partition), and every day from the first to the last fact is
-- built, i.e. has its marts.daily_kpis row. Looks at the whole table, not a window.
with fact_days as (
    select min(occurred_on) as first_day, max(occurred_on) as last_day from core.transactions
    union all
    select min(logged_in_on), max(logged_in_on) from core.logins
),

facts as (
    select min(first_day) as first_fact_day, max(last_day) as last_fact_day from fact_days
),

built as (
    select min(day) as first_built_day, max(day) as last_built_day from marts.daily_kpis
),

missing as (
    select count(*) as unbuilt_fact_days
    from facts
    cross join generate_series(facts.first_fact_day, facts.last_fact_day, interval '1 day') as day
    where not exists (select from marts.daily_kpis as kpis where kpis.day = day.day::date)
),

final as materialized (
    select facts.*, built.*, missing.unbuilt_fact_days
    from facts, built, missing
)

select
    *,
    unbuilt_fact_days = 0 and coalesce(first_built_day <= first_fact_day, true) as passed
from final

-- check: reconciles_with_core
-- marts.daily_kpis has exactly one row per day of the window [window_start, window_end), and
-- every figure equals a recomputation from core, grouped otherwise than the mart (which sums
-- the other marts): movements by day, kind and completeness; distinct users by day (and
-- kind) from core.transactions and core.logins; per-currency amounts by day, kind and
-- currency. First depositors come from marts.deposit_ordinals (reconciled with core by its
-- own check), not from the daily_user_status ranges the mart reads.
with days as (
    select day::date as day
    from generate_series(
        %(window_start)s::date, %(window_end)s::date - 1, interval '1 day'
    ) as day
),

movements as (
    select occurred_on as day, kind::text as kind, is_complete, currency, user_id, amount
    from core.transactions
    where occurred_on >= %(window_start)s and occurred_on < %(window_end)s
),

by_kind as (
    select day, kind, is_complete, count(*) as count_movements
    from movements
    group by day, kind, is_complete
),

-- kind null: users with a counted movement of either kind
counted_users as (
    select day, kind, count(distinct user_id) as count_users
    from movements
    where is_complete
    group by grouping sets ((day, kind), (day))
),

currency_amounts as (
    select day, kind, currency, sum(amount) as amount
    from movements
    where is_complete
    group by day, kind, currency
),

by_currency as (
    select
        day,
        kind,
        jsonb_object_agg(currency, amount) as amounts,
        count(*) as count_currencies
    from currency_amounts
    group by day, kind
),

first_depositors as (
    select day, count(*) as count_first_depositors
    from marts.deposit_ordinals
    where ordinal = 1 and day >= %(window_start)s and day < %(window_end)s
    group by day
),

logins as (
    select
        logged_in_on as day,
        count(*) as count_logins,
        count(distinct user_id) as count_users_logged_in
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

expected as (
    select
        days.day,
        coalesce(active.count_users, 0) as count_active_users,
        coalesce(depositors.count_users, 0) as count_depositors,
        coalesce(withdrawers.count_users, 0) as count_withdrawers,
        coalesce(first_depositors.count_first_depositors, 0) as count_first_depositors,
        coalesce(new_users.count_new_users, 0) as count_new_users,
        coalesce(logins.count_users_logged_in, 0) as count_users_logged_in,
        coalesce(deposits.count_movements, 0) as count_deposits,
        coalesce(withdrawals.count_movements, 0) as count_withdrawals,
        coalesce(deposit_amounts.amounts, '{}') as amount_deposits_by_currency,
        coalesce(withdrawal_amounts.amounts, '{}') as amount_withdrawals_by_currency,
        coalesce(failed_deposits.count_movements, 0) as count_failed_deposits,
        coalesce(failed_withdrawals.count_movements, 0) as count_failed_withdrawals,
        coalesce(logins.count_logins, 0) as count_logins,
        coalesce(deposit_amounts.count_currencies, 0) as count_deposit_currencies,
        coalesce(withdrawal_amounts.count_currencies, 0) as count_withdrawal_currencies
    from days
    left join counted_users as active on active.day = days.day and active.kind is null
    left join counted_users as depositors
        on depositors.day = days.day and depositors.kind = 'deposit'
    left join counted_users as withdrawers
        on withdrawers.day = days.day and withdrawers.kind = 'withdrawal'
    left join first_depositors on first_depositors.day = days.day
    left join new_users on new_users.day = days.day
    left join logins on logins.day = days.day
    left join by_kind as deposits
        on deposits.day = days.day and deposits.kind = 'deposit' and deposits.is_complete
    left join by_kind as withdrawals
        on
            withdrawals.day = days.day
            and withdrawals.kind = 'withdrawal'
            and withdrawals.is_complete
    left join by_kind as failed_deposits
        on
            failed_deposits.day = days.day
            and failed_deposits.kind = 'deposit'
            and not failed_deposits.is_complete
    left join by_kind as failed_withdrawals
        on
            failed_withdrawals.day = days.day
            and failed_withdrawals.kind = 'withdrawal'
            and not failed_withdrawals.is_complete
    left join by_currency as deposit_amounts
        on deposit_amounts.day = days.day and deposit_amounts.kind = 'deposit'
    left join by_currency as withdrawal_amounts
        on withdrawal_amounts.day = days.day and withdrawal_amounts.kind = 'withdrawal'
),

mart as (
    select *
    from marts.daily_kpis
    where day >= %(window_start)s and day < %(window_end)s
),

compared as (
    select
        coalesce(expected.day, mart.day) as day,
        -- jsonb compares numbers as numbers: 100.10 equals 100.1
        (
            expected.count_active_users, expected.count_depositors, expected.count_withdrawers,
            expected.count_first_depositors, expected.count_new_users,
            expected.count_users_logged_in, expected.count_deposits, expected.count_withdrawals,
            expected.amount_deposits_by_currency, expected.amount_withdrawals_by_currency,
            expected.count_failed_deposits, expected.count_failed_withdrawals,
            expected.count_logins, expected.count_deposit_currencies,
            expected.count_withdrawal_currencies
        ) is not distinct from (
            mart.count_active_users, mart.count_depositors, mart.count_withdrawers,
            mart.count_first_depositors, mart.count_new_users,
            mart.count_users_logged_in, mart.count_deposits, mart.count_withdrawals,
            mart.amount_deposits_by_currency, mart.amount_withdrawals_by_currency,
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
