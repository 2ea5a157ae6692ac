-- marts.daily_logins: one row per user and UTC day with at least one login, from core.logins.
-- last_login_at is the user's last login as of the end of the day; as of any day D it is the
-- row with the latest day on or before D (one index probe), so no row per inactive day.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction.
create table if not exists marts.daily_logins (
    day date not null,
    user_id text collate "C" not null,
    count_logins integer not null,
    first_login_at timestamptz not null,
    last_login_at timestamptz not null
);

insert into marts.daily_logins
with logins as (
    select
        logged_in_on,
        user_id collate "C" as user_id,
        logged_in_at
    from core.logins
    where logged_in_on >= %(window_start)s and logged_in_on < %(window_end)s
),

final as (
    select
        logged_in_on as day,
        user_id,
        count(*) as count_logins,
        min(logged_in_at) as first_login_at,
        max(logged_in_at) as last_login_at
    from logins
    group by logged_in_on, user_id
)

select * from final;

-- Indexes come last: a full rebuild drops them and builds them again, sorted, after the insert.
create unique index if not exists daily_logins_key
    on marts.daily_logins (user_id, day);
create index if not exists daily_logins_by_day on marts.daily_logins (day);
