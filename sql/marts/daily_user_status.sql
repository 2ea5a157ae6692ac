-- marts.daily_user_status: one row per user and UTC day on which the user is ACTIVE, i.e. has
-- at least one counted (complete) deposit or withdrawal (what Q1 counts), from
-- marts.daily_movements. Inactive days are not stored: storage grows with activity, not with
-- users x days. deposit_ordinals holds the ordinals of the user's counted deposits made that
-- day ([6,8) = the 6th and 7th); marts.deposit_ordinals lists them one per row.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction, carrying the
-- cumulative counts from each user's last row before the window.
create table if not exists marts.daily_user_status (
    day date not null,
    user_id text collate "C" not null,
    status text not null check (status = 'ACTIVE'),
    -- the day's counted movements, all currencies
    count_deposits integer not null,
    count_withdrawals integer not null,
    count_currencies integer not null,
    -- cumulative to the end of the day
    count_deposits_to_date bigint not null,
    count_withdrawals_to_date bigint not null,
    deposit_ordinals int8range not null
);

insert into marts.daily_user_status
with days as (
    select
        day,
        user_id,
        sum(count_deposits) as count_deposits,
        sum(count_withdrawals) as count_withdrawals,
        count(*) as count_currencies
    from marts.daily_movements
    where
        day >= %(window_start)s and day < %(window_end)s
        and (count_deposits > 0 or count_withdrawals > 0)
    group by day, user_id
),

users as (
    select distinct user_id from days
),

opening as (
    select
        users.user_id,
        previous.count_deposits_to_date,
        previous.count_withdrawals_to_date
    from users
    cross join lateral (
        select status.count_deposits_to_date, status.count_withdrawals_to_date
        from marts.daily_user_status as status
        where status.user_id = users.user_id and status.day < %(window_start)s
        order by status.day desc
        limit 1
    ) as previous
),

cumulative as (
    select
        days.*,
        coalesce(opening.count_deposits_to_date, 0)
        + (sum(days.count_deposits) over by_user)::bigint as count_deposits_to_date,
        coalesce(opening.count_withdrawals_to_date, 0)
        + (sum(days.count_withdrawals) over by_user)::bigint as count_withdrawals_to_date
    from days
    left join opening on opening.user_id = days.user_id
    window by_user as (partition by days.user_id order by days.day)
),

final as (
    select
        day,
        user_id,
        'ACTIVE' as status,
        -- the day's counted movements, all currencies
        count_deposits,
        count_withdrawals,
        count_currencies,
        -- cumulative to the end of the day
        count_deposits_to_date,
        count_withdrawals_to_date,
        int8range(count_deposits_to_date - count_deposits + 1, count_deposits_to_date + 1)
            as deposit_ordinals
    from cumulative
)

select * from final;

-- Indexes come last: a full rebuild drops them and builds them again, sorted, after the insert.
create unique index if not exists daily_user_status_key
    on marts.daily_user_status (user_id, day);
create index if not exists daily_user_status_by_day on marts.daily_user_status (day);
