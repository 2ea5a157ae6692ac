-- A user to show the per-user questions (Q4, Q5) for, e.g. in `bitso ask all`: the user of
-- the latest login on or before day D (marts.daily_logins), none when nobody has logged in.
with latest as (
    select user_id
    from marts.daily_logins
    where day <= %(day)s
    order by day desc, last_login_at desc, user_id
    limit 1
)

select * from latest
