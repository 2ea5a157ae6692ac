-- marts.daily_currency_totals: one row per currency and UTC day with at least one deposit or
-- withdrawal, from marts.daily_movements: counts, amounts and distinct users, counted
-- (complete) and failed kept apart.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction.
create table if not exists marts.daily_currency_totals (
    day date not null,
    currency text collate "C" not null,
    -- counted (complete) movements
    count_deposits integer not null,
    amount_deposits numeric not null,
    count_depositors integer not null,
    count_withdrawals integer not null,
    amount_withdrawals numeric not null,
    count_withdrawers integer not null,
    -- failed movements
    count_failed_deposits integer not null,
    amount_failed_deposits numeric not null,
    count_failed_withdrawals integer not null,
    amount_failed_withdrawals numeric not null
);

insert into marts.daily_currency_totals
with movements as (
    select *
    from marts.daily_movements
    where day >= %(window_start)s and day < %(window_end)s
),

final as (
    select
        day,
        currency,
        -- counted
        sum(count_deposits) as count_deposits,
        sum(amount_deposits) as amount_deposits,
        count(*) filter (where count_deposits > 0) as count_depositors,
        sum(count_withdrawals) as count_withdrawals,
        sum(amount_withdrawals) as amount_withdrawals,
        count(*) filter (where count_withdrawals > 0) as count_withdrawers,
        -- failed
        sum(count_failed_deposits) as count_failed_deposits,
        sum(amount_failed_deposits) as amount_failed_deposits,
        sum(count_failed_withdrawals) as count_failed_withdrawals,
        sum(amount_failed_withdrawals) as amount_failed_withdrawals
    from movements
    group by day, currency
)

select * from final;

-- Indexes come last: a full rebuild drops them and builds them again, sorted, after the insert.
create unique index if not exists daily_currency_totals_key
    on marts.daily_currency_totals (day, currency);
