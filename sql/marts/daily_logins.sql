-- marts.daily_logins: one row per user and UTC day with at least one login, from core.logins.
-- last_login_at is the user's last login as of the end of the day; as of any day D it is the
-- row with the latest day on or before D (one index probe), so no row per inactive day.
-- Inserts the days [window_start, window_end), emptied by the caller's transaction.
-- Its own checks follow, each after a line `-- check: <name>`: one row, `passed` decides.
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

-- check: reconciles_with_core
-- marts.daily_logins adds up to core.logins on every day of the window
-- [window_start, window_end): the day's logins, first and last login. (Rows are unique per
-- user and day by their key; which user a login belongs to is proven by the question tests.)
with facts as (
    select
        logged_in_on as day,
        count(*) as logins,
        min(logged_in_at) as first_login_at,
        max(logged_in_at) as last_login_at
    from core.logins
    where logged_in_on >= %(window_start)s and logged_in_on < %(window_end)s
    group by logged_in_on
),

mart as (
    select
        day,
        sum(count_logins) as logins,
        min(first_login_at) as first_login_at,
        max(last_login_at) as last_login_at
    from marts.daily_logins
    where day >= %(window_start)s and day < %(window_end)s
    group by day
),

compared as (
    select
        coalesce(facts.day, mart.day) as day,
        (facts.logins, facts.first_login_at, facts.last_login_at)
        is not distinct from (mart.logins, mart.first_login_at, mart.last_login_at) as matches
    from facts
    full join mart on mart.day = facts.day
),

final as materialized (
    select
        count(*) as days_with_logins,
        count(*) filter (where not matches) as mismatched_days,
        min(day) filter (where not matches) as first_mismatched_day
    from compared
)

select *, mismatched_days = 0 as passed from final
